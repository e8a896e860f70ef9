"""Loading, reading and changing the configuration.

Precedence, per key: ``overrides`` (command-line flags) > ``CLINVK_*`` environment > the config
file > built-in defaults. The file is ``--config``/``path``, else ``$CLINVK_CONFIG``, else
``<home>/config.yaml`` (see :mod:`clinvoker.paths`); a missing default file is fine, a missing
explicit one is an error.

Environment variables:

* ``CLINVK_BACKEND`` -> ``default_backend``; ``CLINVK_<NAME>_MODEL`` -> ``backends.<name>.model``
  (any backend name); ``CLINVK_API_KEYS`` (comma separated) -> ``server.api_keys``;
  ``CLINVK_API_KEYS_GOPASS_PATH`` -> ``server.api_keys_gopass_path``.
* ``CLINVK_<SECTION>__<KEY>`` for any key, ``__`` separating levels:
  ``CLINVK_SERVER__PORT=9000``, ``CLINVK_BACKENDS__CLAUDE__EXTRA_FLAGS=--verbose,--debug``.
  Booleans take true/false/yes/no/1/0, lists ``a,b`` or JSON, sections and mappings JSON.

Every problem is one :class:`~clinvoker.errors.ConfigError` line naming where the value came
from, the key, the bad value and what is allowed::

    config.yaml: unified_flags.approval_mode: 'sometimes' is not one of default, auto, none, always
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from clinvoker.config_cache import load_cached
from clinvoker.config_keys import coerce_text, normalize, resolve_key, show_value
from clinvoker.config_rules import check_rules
from clinvoker.config_schema import (
    ApiKeyPolicy,
    BackendConfig,
    Config,
    OutputConfig,
    ParallelConfig,
    ServerConfig,
    SessionConfig,
    UnifiedFlags,
)
from clinvoker.errors import ConfigError
from clinvoker.paths import clinvk_home, config_path

__all__ = [
    "ApiKeyPolicy",
    "BackendConfig",
    "Config",
    "ConfigError",
    "OutputConfig",
    "ParallelConfig",
    "ServerConfig",
    "SessionConfig",
    "UnifiedFlags",
    "config_to_dict",
    "get_config_value",
    "load_config",
    "set_config_value",
]

OVERRIDES = "command line"
"""How values given in ``overrides`` are named in error messages."""

_SPECIAL_ENV = {
    "CLINVK_BACKEND": "default_backend",
    "CLINVK_API_KEYS": "server.api_keys",
    "CLINVK_API_KEYS_GOPASS_PATH": "server.api_keys_gopass_path",
}


# -- loading -----------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Load the configuration from the file, the environment and ``overrides``.

    :param path: the config file (``--config``); ``None`` = ``$CLINVK_CONFIG`` or the default.
    :param overrides: dotted key -> value from flags (``{"output.format": "text"}``); ``None``
        values are skipped, strings are parsed to the key's type.
    :param env: the environment to read (default :data:`os.environ`).
    :raises ConfigError: the file is missing (when explicit) or invalid, or a value is not allowed.
    """
    env = os.environ if env is None else env
    file = _choose_file(path, env)
    origins: dict[str, str] = {}
    tree: dict[str, Any] = {}
    if file is not None:
        cache = clinvk_home(env) / "cache" / "config.msgpack"
        tree = normalize(load_cached(file, cache, read_yaml), Config, [], str(file))
    for segments, text, var in _env_settings(env):
        key, tp = resolve_key(segments, var)
        value = normalize(coerce_text(text, tp, f"{var}: {'.'.join(key)}"), tp, key, var)
        _assign(tree, key, value)
        origins[".".join(key)] = var
    for dotted, given in (overrides or {}).items():
        if given is None:
            continue
        key, tp = resolve_key(dotted, OVERRIDES)
        where = f"{OVERRIDES}: {'.'.join(key)}"
        value = coerce_text(given, tp, where) if isinstance(given, str) else given
        _assign(tree, key, normalize(value, tp, key, OVERRIDES))
        origins[".".join(key)] = OVERRIDES
    config = _convert(tree, str(file) if file else "config")
    check_rules(config, origins, str(file) if file else "defaults")
    return config


def _choose_file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    if path is not None:
        return _explicit(Path(path).expanduser(), "Check the path given with --config.")
    if env.get("CLINVK_CONFIG", "").strip():
        return _explicit(config_path(env), "Check the CLINVK_CONFIG environment variable.")
    default = config_path(env)
    return default if default.is_file() else None


def _explicit(path: Path, hint: str) -> Path:
    if path.is_file():
        return path
    if path.exists():
        raise ConfigError(f"config file {path} is not a regular file", hint=hint)
    raise ConfigError(f"config file {path} does not exist", hint=hint)


def read_yaml(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file (``{}`` for an empty file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{at}: {' '.join(str(problem).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected keys such as 'default_backend:' at the top level, "
            f"got {show_value(data)}"
        )
    return data


def _env_settings(env: Mapping[str, str]) -> list[tuple[list[str], str, str]]:
    """``(key segments, text, variable)`` for every config variable set in ``env``."""
    found: list[tuple[list[str], str, str]] = []
    for var in sorted(env):
        if not var.startswith("CLINVK_"):
            continue
        text = env[var]
        if not text.strip():
            continue
        rest = var[len("CLINVK_") :]
        if var in _SPECIAL_ENV:
            found.append((_SPECIAL_ENV[var].split("."), text, var))
        elif "__" in rest:
            found.append((rest.split("__"), text, var))
        elif rest.endswith("_MODEL") and len(rest) > len("_MODEL"):
            backend = rest[: -len("_MODEL")].lower()
            found.append((["backends", backend, "model"], text, var))
    return found


def _assign(tree: dict[str, Any], key: list[str], value: Any) -> None:
    node = tree
    for seg in key[:-1]:
        child = node.get(seg)
        if not isinstance(child, dict):
            child = node[seg] = {}
        node = child
    old = node.get(key[-1])
    if isinstance(old, dict) and isinstance(value, dict):
        for k, v in value.items():
            _assign(old, [k], v)
    else:
        node[key[-1]] = value


def _convert(tree: dict[str, Any], source: str) -> Config:
    try:
        return msgspec.convert(tree, Config)
    except msgspec.ValidationError as exc:  # normalize() catches the cases users meet
        raise ConfigError(f"{source}: {exc}") from None


# -- reading and changing single keys ----------------------------------------------------------


def get_config_value(config: Config, key: str) -> Any:
    """The value of a dotted key as plain data (``get_config_value(cfg, "server.port")`` -> 8080).

    A backend without a section answers its defaults; an unset mapping entry answers ``None``.

    :raises ConfigError: no such key (listing close matches).
    """
    segments, _ = resolve_key(key)
    node: Any = config
    for i, seg in enumerate(segments):
        if isinstance(node, msgspec.Struct):
            node = getattr(node, seg)
        elif seg in node:
            node = node[seg]
        else:
            _, tp = resolve_key(segments[: i + 1])
            node = tp() if isinstance(tp, type) and issubclass(tp, msgspec.Struct) else None
            if node is None:
                return None
    return msgspec.to_builtins(node)


def set_config_value(key: str, raw_value: Any, path: str | os.PathLike[str] | None = None) -> Any:
    """Set one key in the config file in use and return the value as stored.

    ``raw_value`` may be text as typed by a user (parsed to the key's type: ``true``, ``9000``,
    ``a,b``, JSON for lists of sections) or an already typed value. The whole resulting config
    is validated before anything is written; other keys are kept. The file is
    ``path``, else ``$CLINVK_CONFIG``, else ``<home>/config.yaml``; its directory is created
    (mode 0700) if needed, and it is replaced atomically (a new file gets mode 0600).

    :raises ConfigError: unknown key (with close matches), a bad value, or the file cannot be written.
    """
    target = Path(path).expanduser() if path is not None else config_path()
    segments, tp = resolve_key(key)
    dotted = ".".join(segments)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        first = next(iter(tp.__struct_fields__))
        raise ConfigError(f"'{dotted}' is a section; set one of its keys, e.g. {dotted}.{first}")
    value = coerce_text(raw_value, tp, dotted) if isinstance(raw_value, str) else raw_value
    value = normalize(value, tp, segments, "")
    data = read_yaml(target) if target.exists() else {}
    _set_raw(data, segments, value)
    tree = normalize(data, Config, [], str(target))
    check_rules(_convert(tree, str(target)), {}, str(target))
    _write_yaml(target, data)
    return value


def _set_raw(data: dict[str, Any], segments: list[str], value: Any) -> None:
    """Set ``value`` in the file's own mapping, reusing keys the file spells differently."""
    node = data
    for i, seg in enumerate(segments):
        existing = next((k for k in node if str(k).lower() == seg.lower()), seg)
        if i == len(segments) - 1:
            node[existing] = value
            return
        child = node.get(existing)
        if not isinstance(child, dict):
            child = node[existing] = {}
        node = child


def _write_yaml(target: Path, data: dict[str, Any]) -> None:
    import tempfile

    import yaml

    real = target.resolve() if target.is_symlink() else target
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(
        data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    try:
        if not real.parent.is_dir():
            real.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(real.parent, 0o700)
        mode = real.stat().st_mode & 0o777 if real.exists() else 0o600
        fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=".config-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, real)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(
            f"cannot write config file {target}: {exc.strerror or exc}",
            hint="Check that its directory is writable, or point --config/CLINVK_CONFIG elsewhere.",
        ) from None


def config_to_dict(config: Config, *, redact: bool = True) -> dict[str, Any]:
    """The whole configuration as plain data (for ``clinvk config show``).

    With ``redact`` (the default) API key secrets and the values of ``backends.<name>.env``
    (where provider tokens live) are replaced by ``"***"``.
    """
    data: dict[str, Any] = msgspec.to_builtins(config)
    if redact:
        server = data["server"]
        server["api_keys"] = ["***" for _ in server["api_keys"]]
        for entry in server["keys"]:
            if entry.get("key"):
                entry["key"] = "***"
        for backend in data["backends"].values():
            backend["env"] = {name: "***" for name in backend.get("env", {})}
    return data
