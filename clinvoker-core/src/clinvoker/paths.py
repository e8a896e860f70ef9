"""Where clinvoker keeps its files.

* ``clinvk_home()`` — ``$CLINVK_HOME`` if set; else ``~/.clinvk`` when it already exists (users of
  the Go tool keep their sessions and config); else the platform's user data directory
  (``~/.local/share/clinvk`` on Linux, ``~/Library/Application Support/clinvk`` on macOS).
* ``config_path()`` — ``$CLINVK_CONFIG`` if set, else ``<home>/config.yaml``.
* ``sessions_dir()`` — ``<home>/sessions``.

Every function takes an optional ``env`` mapping (default :data:`os.environ`) so tests and
embedders can resolve paths for another environment without touching the process's own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["clinvk_home", "config_path", "sessions_dir"]

APP_NAME = "clinvk"


def _user_home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "").strip()
    return Path(home) if home else Path.home()


def _expand(raw: str, env: Mapping[str, str]) -> Path:
    if raw == "~" or raw.startswith(("~/", "~" + os.sep)):
        return _user_home(env) / raw[2:]
    return Path(raw).expanduser()


def clinvk_home(env: Mapping[str, str] | None = None) -> Path:
    """The directory holding ``config.yaml`` and ``sessions/`` (it may not exist yet)."""
    env = os.environ if env is None else env
    explicit = env.get("CLINVK_HOME", "").strip()
    if explicit:
        return _expand(explicit, env)
    legacy = _user_home(env) / ".clinvk"
    if legacy.is_dir():
        return legacy
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The config file in use: ``$CLINVK_CONFIG`` or ``<home>/config.yaml`` (it may not exist)."""
    env = os.environ if env is None else env
    explicit = env.get("CLINVK_CONFIG", "").strip()
    if explicit:
        return _expand(explicit, env)
    return clinvk_home(env) / "config.yaml"


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    """The session store directory: ``<home>/sessions`` (it may not exist)."""
    return clinvk_home(env) / "sessions"
