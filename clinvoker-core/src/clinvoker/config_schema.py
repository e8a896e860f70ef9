"""The configuration tree: one frozen msgspec ``Struct`` per section of ``config.yaml``.

Every key of the Go tool's config is here with the same name and default, so an existing
``~/.clinvk/config.yaml`` loads unchanged; keys the Go tool did not have are marked *(new)*.
Unknown keys are rejected (``forbid_unknown_fields``) so typos are caught. Loading, environment
variables and error messages live in :mod:`clinvoker.config`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

__all__ = [
    "ApiKeyPolicy",
    "BackendConfig",
    "Config",
    "OutputConfig",
    "ParallelConfig",
    "ServerConfig",
    "SessionConfig",
    "UnifiedFlags",
]

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]

ApprovalMode = Literal["default", "auto", "none", "always"]
SandboxMode = Literal["default", "read-only", "workspace", "full"]
BackendApprovalMode = Literal["", "default", "auto", "none", "always"]
BackendSandboxMode = Literal["", "default", "read-only", "workspace", "full"]
OutputFormat = Literal["default", "text", "json", "stream-json"]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section: immutable, keyword-only, unknown keys rejected."""


class UnifiedFlags(_Section, frozen=True):
    """``unified_flags``: defaults applied to every backend's run."""

    approval_mode: ApprovalMode = "default"
    sandbox_mode: SandboxMode = "default"
    verbose: bool = False
    dry_run: bool = False
    max_turns: NonNegInt = 0
    """0 = the CLI's own limit."""
    max_tokens: NonNegInt = 0
    command_timeout_secs: NonNegInt = 0
    """Stop a run after this many seconds; 0 = no timeout."""


class BackendConfig(_Section, frozen=True):
    """``backends.<name>``: per-backend defaults (any backend name, plugins included)."""

    model: str = ""
    path: str = ""
    """*(new)* Executable path; empty = look the backend's executable up on ``PATH``."""
    allowed_tools: list[str] = []
    """Accepts a list or the Go tool's comma-separated string."""
    disallowed_tools: list[str] = []
    """*(new)*"""
    approval_mode: BackendApprovalMode = ""
    """Empty = use ``unified_flags.approval_mode``."""
    sandbox_mode: BackendSandboxMode = ""
    extra_flags: list[str] = []
    system_prompt: str = ""
    enabled: bool | None = None
    env: dict[str, str] = {}
    """*(new)* Extra environment variables for this backend's CLI process."""


class SessionConfig(_Section, frozen=True):
    """``session``: how conversations are kept."""

    auto_resume: bool = True
    retention_days: NonNegInt = 30
    """``clinvk sessions clean`` deletes sessions unused for this long; 0 = keep forever."""
    default_tags: list[str] = []
    store_token_usage: bool = True
    max_sessions: NonNegInt = 0
    """*(new)* Keep at most this many sessions when cleaning; 0 = no limit."""


class OutputConfig(_Section, frozen=True):
    """``output``: how ``clinvk`` prints results."""

    format: OutputFormat = "json"
    show_tokens: bool = False
    show_timing: bool = False
    color: bool = True


class ParallelConfig(_Section, frozen=True):
    """``parallel``: ``clinvk parallel`` defaults."""

    max_workers: PositiveInt = 3
    fail_fast: bool = False
    aggregate_output: bool = True


class ApiKeyPolicy(_Section, frozen=True):
    """*(new)* One entry of ``server.keys``: a named API key and what it may do.

    Exactly one of ``key`` (the secret itself) and ``key_env`` (the environment variable holding
    it) is set. Empty lists mean "no restriction"; 0 means "the server-wide default".
    """

    name: str
    """Shown in logs and owns the sessions this key creates (never the key itself)."""
    key: str = ""
    key_env: str = ""
    backends: list[str] = []
    """Backends this key may use."""
    models: list[str] = []
    """Model ids this key may use: ``backend/model``, a backend name (its default model) or a
    ``server.model_aliases`` alias."""
    access: Literal["read-only", "full"] = "full"
    """``read-only``: every run is in the CLI's read-only sandbox / plan mode, and a request
    cannot ask for more (nor delete sessions)."""
    workdir_roots: list[str] = []
    """Runs only in these directories or below; the first is the default working directory."""
    max_concurrent: NonNegInt = 0
    """Runs of this key in flight at once (429 beyond); 0 = no per-key cap."""
    rate_limit_rps: NonNegFloat = 0.0
    """This key's own request rate (even with ``server.rate_limit_enabled`` off); 0 = the
    server's rate when rate limiting is enabled."""
    rate_limit_burst: NonNegInt = 0

    def secret(self, env: Mapping[str, str] | None = None) -> str | None:
        """The key's secret: ``key``, or the value of ``$key_env`` (``None`` if that is unset)."""
        if self.key:
            return self.key
        value = (os.environ if env is None else env).get(self.key_env, "")
        return value or None


class ServerConfig(_Section, frozen=True):
    """``server``: ``clinvk serve`` settings."""

    host: str = "127.0.0.1"
    port: Port = 8080
    request_timeout_secs: NonNegInt = 300
    read_timeout_secs: NonNegInt = 30
    write_timeout_secs: NonNegInt = 300
    idle_timeout_secs: NonNegInt = 120
    api_keys: list[str] = []
    """*(new)* Accepted API keys (also ``CLINVK_API_KEYS``, comma separated)."""
    api_keys_file: str = ""
    """*(new)* A file with a key list (one key per line, ``name:key``, or a YAML/JSON list)."""
    api_keys_command: str = ""
    """*(new)* A command printing a key list, e.g. ``gopass show -o clinvk/keys`` (no shell)."""
    api_keys_command_timeout_secs: PositiveInt = 10
    """*(new)* How long ``api_keys_command`` (and gopass) may take before it counts as failed."""
    api_keys_gopass_path: str = ""
    """Runs ``gopass show -o <path>`` for a key list (also ``CLINVK_API_KEYS_GOPASS_PATH``)."""
    keys: list[ApiKeyPolicy] = []
    """*(new)* Named keys with per-key policies."""
    rate_limit_enabled: bool = False
    rate_limit_rps: NonNegFloat = 10.0
    rate_limit_burst: NonNegInt = 20
    """0 = twice ``rate_limit_rps``."""
    rate_limit_cleanup_secs: NonNegInt = 180
    trusted_proxies: list[str] = []
    max_request_body_bytes: NonNegInt = 10485760
    """0 = no limit."""
    cors_allowed_origins: list[str] = []
    cors_allow_credentials: bool = False
    cors_max_age: NonNegInt = 0
    allowed_workdir_prefixes: list[str] = []
    blocked_workdir_prefixes: list[str] = []
    metrics_enabled: bool = False
    max_concurrent_per_backend: PositiveInt = 4
    """*(new)* Runs in flight per backend before requests queue."""
    queue_size: NonNegInt = 16
    """*(new)* Requests that may wait for a free slot before the server answers 503."""
    queue_timeout_secs: NonNegInt = 30
    """*(new)* How long a queued request waits for a slot; 0 = as long as it takes."""
    route_unknown_models: bool = False
    """*(new)* Send unknown model names to the default backend instead of answering 404."""
    model_aliases: dict[str, str] = {}
    """*(new)* Model name -> ``"backend/model"`` for the OpenAI and Anthropic APIs."""
    shutdown_grace_secs: NonNegInt = 30
    keepalive_secs: NonNegInt = 15
    """*(new)* Interval of SSE keep-alive comments; 0 = none."""
    audit_log: str = ""
    """*(new)* Path of a JSON-lines audit log, one line per run (mode 0600); empty = none."""
    log_format: Literal["json", "text"] = "text"


class Config(_Section, frozen=True):
    """The whole configuration (``config.yaml`` + ``CLINVK_*`` environment + flags)."""

    default_backend: str = "claude"
    """Checked against the installed backends when used, not when loaded."""
    unified_flags: UnifiedFlags = msgspec.field(default_factory=UnifiedFlags)
    backends: dict[str, BackendConfig] = {}
    session: SessionConfig = msgspec.field(default_factory=SessionConfig)
    output: OutputConfig = msgspec.field(default_factory=OutputConfig)
    parallel: ParallelConfig = msgspec.field(default_factory=ParallelConfig)
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)

    def backend(self, name: str) -> BackendConfig:
        """The settings of backend ``name`` (all defaults when it has no section)."""
        found = self.backends.get(name)
        return found if found is not None else _DEFAULT_BACKEND


_DEFAULT_BACKEND = BackendConfig()
