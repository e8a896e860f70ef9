"""Validation rules that a type alone cannot express (the Go tool's ``config validation`` rules
plus ours): names, host, rate limits, named API keys, model aliases."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from clinvoker.config_keys import show_value
from clinvoker.config_schema import ApiKeyPolicy, Config
from clinvoker.errors import ConfigError

__all__ = ["check_rules", "key_policy_problems"]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_RE = re.compile(r"[A-Za-z0-9.-]{1,253}")


def check_rules(config: Config, origins: Mapping[str, str], fallback: str) -> None:
    """Raise :class:`ConfigError` for the first broken rule, naming where the key was set.

    :param origins: dotted key -> where it was set (env var name, ``command line``).
    :param fallback: the source named for keys not in ``origins`` (the file, or ``defaults``).
    """
    for key, problem in _problems(config):
        source = next(
            (origins[p] for p in _prefixes(key) if p in origins),
            fallback,
        )
        raise ConfigError(f"{source}: {key}: {problem}")


def _prefixes(key: str) -> list[str]:
    parts = key.replace("[", ".[").split(".")
    return [".".join(parts[:i]).replace(".[", "[") for i in range(len(parts), 0, -1)]


def _problems(config: Config) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if not _NAME_RE.fullmatch(config.default_backend):
        found.append(
            (
                "default_backend",
                f"{show_value(config.default_backend)} is not a backend name (e.g. claude, codex, gemini)",
            )
        )
    for name in config.backends:
        if not _NAME_RE.fullmatch(name):
            found.append(
                (
                    f"backends.{name}",
                    f"{show_value(name)} is not a backend name (letters, digits, '-', '_', '.')",
                )
            )
    server = config.server
    if not _valid_host(server.host):
        found.append(
            ("server.host", f"{show_value(server.host)} is not an IP address or host name")
        )
    if server.rate_limit_enabled and server.rate_limit_rps <= 0:
        found.append(
            (
                "server.rate_limit_rps",
                "must be greater than 0 when server.rate_limit_enabled is true",
            )
        )
    for i, key in enumerate(server.api_keys):
        if not key.strip():
            found.append((f"server.api_keys[{i}]", "an API key cannot be empty"))
    for alias, target in server.model_aliases.items():
        backend, _, model = target.partition("/")
        if not backend or not model:
            found.append(
                (
                    f"server.model_aliases.{alias}",
                    f"{show_value(target)} is not of the form backend/model (e.g. claude/haiku)",
                )
            )
    found.extend(_key_problems(server.keys))
    return found


def _key_problems(keys: list[ApiKeyPolicy]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    names: set[str] = set()
    secrets: dict[str, str] = {}
    for i, policy in enumerate(keys):
        at = f"server.keys[{i}]"
        found.extend((f"{at}{field}", problem) for field, problem in key_policy_problems(policy))
        if _NAME_RE.fullmatch(policy.name) and policy.name in names:
            found.append(
                (
                    f"{at}.name",
                    f"{show_value(policy.name)} is used by two keys; names must be unique",
                )
            )
        names.add(policy.name)
        if policy.key and not policy.key_env and policy.key in secrets:
            found.append(
                (
                    f"{at}.key",
                    f"the same secret is already used by key {show_value(secrets[policy.key])}",
                )
            )
        if policy.key:
            secrets.setdefault(policy.key, policy.name)
    return found


def key_policy_problems(policy: ApiKeyPolicy) -> list[tuple[str, str]]:
    """What is wrong with one named key on its own, as ``(".field" or "", problem)`` pairs.

    Checked: the name's characters, exactly one of ``key``/``key_env``, the variable name, and
    absolute ``workdir_roots``. Messages never contain the secret. Used for ``server.keys`` and
    for named keys read from a key file or command.
    """
    found: list[tuple[str, str]] = []
    if not _NAME_RE.fullmatch(policy.name):
        found.append(
            (
                ".name",
                f"{show_value(policy.name)} is not a key name (letters, digits, '-', '_', '.', '@')",
            )
        )
    if bool(policy.key) == bool(policy.key_env):
        found.append(
            ("", f"key {show_value(policy.name)} needs exactly one of 'key' and 'key_env'")
        )
    elif policy.key_env and not _ENV_NAME_RE.fullmatch(policy.key_env):
        found.append(
            (".key_env", f"{show_value(policy.key_env)} is not an environment variable name")
        )
    for root in policy.workdir_roots:
        if not os.path.isabs(os.path.expanduser(root)):
            found.append((".workdir_roots", f"{show_value(root)} is not an absolute path"))
    return found


def _valid_host(host: str) -> bool:
    if _HOST_RE.fullmatch(host):
        return True
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
