"""The reloadable part of a server: one immutable :class:`Settings` object.

Everything a reload may change — the configuration (backend defaults, limits), the API keys and
their policies, model routing, workdir lists, CORS, trusted proxies — is built into a new
``Settings`` and swapped in with one attribute assignment
(:meth:`clinvoker_server.state.ServerState.apply`). Middleware and handlers read the current
object per request, so a request sees one consistent generation, and runs already in flight
keep the settings they started with.

Settings that shape the process itself (``host``, ``port``, ``metrics_enabled``, ``log_format``,
``max_concurrent_per_backend``, ``queue_size``, ``queue_timeout_secs``,
``rate_limit_cleanup_secs``, ``idle_timeout_secs``) need a restart; a reload that changes them says so in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from clinvoker_server.auth import KeyRing
from clinvoker_server.health import Availability
from clinvoker_server.keysources import load_keyring
from clinvoker_server.middleware.cors import CorsPolicy
from clinvoker_server.models import ModelRouter
from clinvoker_server.ratelimit import TrustedProxies
from clinvoker_server.workdir import WorkdirPolicy

if TYPE_CHECKING:
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost

__all__ = ["RESTART_ONLY", "Settings", "build_settings", "restart_only_changes"]

RESTART_ONLY = (
    "host",
    "port",
    "metrics_enabled",
    "log_format",
    "max_concurrent_per_backend",
    "queue_size",
    "queue_timeout_secs",
    "rate_limit_cleanup_secs",
    "idle_timeout_secs",
)
"""``server.*`` keys a reload cannot apply (the process was built with them)."""


@dataclass(frozen=True, eq=False)
class Settings:
    """One generation of the server's reloadable settings."""

    config: Config
    keys: KeyRing
    router: ModelRouter
    workdirs: WorkdirPolicy
    cors: CorsPolicy
    proxies: TrustedProxies
    availability: Availability
    generation: int = 0


def build_settings(config: Config, host: PluginHost, *, generation: int = 0) -> Settings:
    """Build the settings for ``config`` (runs the key commands; may block for their timeout).

    :raises ConfigError: a problem with the configuration (an unreadable key file, a bad
        trusted proxy...). A failing key command does not raise: the key ring fails closed.
    """
    from clinvoker.errors import ConfigError

    cfg = config.server
    try:
        proxies = TrustedProxies(cfg.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(
            f"server.trusted_proxies: {exc}", hint="use IP addresses or CIDR networks"
        ) from None
    return Settings(
        config=config,
        keys=load_keyring(cfg),
        router=ModelRouter(
            host.backends,
            aliases=cfg.model_aliases,
            configured_models={n: b.model for n, b in config.backends.items() if b.model},
            default_backend=config.default_backend,
            route_unknown=cfg.route_unknown_models,
        ),
        workdirs=WorkdirPolicy(cfg.allowed_workdir_prefixes, cfg.blocked_workdir_prefixes),
        cors=CorsPolicy(
            cfg.cors_allowed_origins,
            allow_credentials=cfg.cors_allow_credentials,
            max_age=cfg.cors_max_age,
        ),
        proxies=proxies,
        availability=Availability(config),
        generation=generation,
    )


def restart_only_changes(old: Config, new: Config) -> list[str]:
    """The :data:`RESTART_ONLY` keys whose value differs between ``old`` and ``new``."""
    return [
        f"server.{key}"
        for key in RESTART_ONLY
        if getattr(old.server, key) != getattr(new.server, key)
    ]
