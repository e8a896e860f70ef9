"""Is a backend's CLI installed, where, and which version?

* :func:`find_executable` — the config's ``backends.<name>.path``, else the backend's
  ``executable`` looked up on ``PATH``.
* :func:`require_executable` — the same, or :class:`~clinvoker.errors.BackendUnavailable` with a
  one-line message saying how to install the CLI.
* :func:`check_backend` / :func:`check_backends` — an :class:`Availability` report with the
  version (probed once by running ``backend.version_args``) and whether it was tested.

Version probes are cached per executable (real path + modification time) in memory and in
``<clinvk home>/cache/versions.json``; a missing or corrupt cache file is ignored and rewritten.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from clinvoker.errors import BackendUnavailable, ClinvokerError

if TYPE_CHECKING:
    from clinvoker.backend import Backend
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost

__all__ = [
    "Availability",
    "VersionCache",
    "check_backend",
    "check_backends",
    "check_backends_sync",
    "default_cache",
    "find_executable",
    "probe_version",
    "require_executable",
]

PROBE_TIMEOUT_S = 15.0
_CACHE_FORMAT = 1


class Availability(msgspec.Struct, frozen=True, kw_only=True):
    """What ``clinvk backends`` and ``/health`` report for one backend.

    ``tested`` is ``True`` when the version is inside the backend's tested range, ``False`` when
    outside, ``None`` when the version is unknown. ``error`` says why it is unusable, one line.
    """

    backend: str
    executable: str
    installed: bool
    enabled: bool = True
    path: str | None = None
    version: str | None = None
    tested: bool | None = None
    tested_versions: str = ""
    install_hint: str = ""
    error: str | None = None


def _configured_path(backend: Backend, config: Config | None) -> str:
    return config.backend(backend.name).path.strip() if config is not None else ""


def find_executable(backend: Backend, config: Config | None = None) -> str | None:
    """The absolute path of the backend's CLI, or ``None`` when it cannot be found.

    ``backends.<name>.path`` wins when set: a path is used if it is an executable file, a bare
    name is looked up on ``PATH``. Otherwise ``backend.executable`` is looked up on ``PATH``.
    """
    configured = _configured_path(backend, config)
    name = os.path.expanduser(configured) if configured else backend.executable
    if os.sep in name:
        return os.path.abspath(name) if _is_executable(name) else None
    return shutil.which(name)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def require_executable(backend: Backend, config: Config | None = None) -> str:
    """Like :func:`find_executable`, but raise when the CLI is missing.

    :raises BackendUnavailable: one line naming the CLI and how to install it.
    """
    path = find_executable(backend, config)
    if path is not None:
        return path
    raise BackendUnavailable(_missing_message(backend, config), backend=backend.name)


def _missing_message(backend: Backend, config: Config | None) -> str:
    configured = _configured_path(backend, config)
    if configured:
        return (
            f"backends.{backend.name}.path is {configured!r}, which is not an executable "
            f"{backend.executable} CLI; fix the path or remove it to search PATH"
        )
    how = f"install it with `{backend.install_hint}`" if backend.install_hint else "install it"
    return (
        f"{backend.executable} CLI not found on PATH; {how} "
        f"or set backends.{backend.name}.path in the config"
    )


# -- version probing ---------------------------------------------------------------------------


class _CacheFile(msgspec.Struct):
    format: int = _CACHE_FORMAT
    versions: dict[str, str] = {}


class VersionCache:
    """Probed versions keyed by executable real path and modification time.

    Kept in memory and in a small JSON file (:func:`default_cache` uses
    ``<clinvk home>/cache/versions.json``).
    A changed executable (new mtime) is probed again. File problems never raise.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._memory: dict[str, str] = {}
        self._loaded = False
        self._lock = threading.Lock()

    @staticmethod
    def key(executable: str) -> str | None:
        """The cache key of an executable, or ``None`` if it cannot be stat'ed."""
        real = os.path.realpath(executable)
        try:
            mtime = os.stat(real).st_mtime_ns
        except OSError:
            return None
        return f"{real}@{mtime}"

    def get(self, key: str) -> str | None:
        with self._lock:
            self._load()
            return self._memory.get(key)

    def put(self, key: str, version: str) -> None:
        with self._lock:
            self._load()
            self._memory[key] = version
            self._store()

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            data = msgspec.json.decode(self.path.read_bytes(), type=_CacheFile)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return
        if data.format == _CACHE_FORMAT:
            self._memory.update(data.versions)

    def _store(self) -> None:
        try:
            target = self.path
            target.parent.mkdir(parents=True, exist_ok=True)
            import tempfile  # only when writing: listing and lookups do not need it

            fd, tmp = tempfile.mkstemp(prefix=".versions-", dir=target.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(msgspec.json.encode(_CacheFile(versions=self._memory)))
            os.replace(tmp, target)
        except OSError:
            pass  # a read-only home only costs a probe next time


_caches: dict[Path, VersionCache] = {}


def default_cache() -> VersionCache:
    """The cache file of the current clinvk home (one in-memory instance per file)."""
    from clinvoker.paths import clinvk_home

    path = clinvk_home() / "cache" / "versions.json"
    return _caches.setdefault(path, VersionCache(path))


async def probe_version(
    backend: Backend,
    executable: str,
    *,
    cache: VersionCache | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> str | None:
    """The CLI's version (``"2.1.197"``) from ``backend.version_args``, probed once per binary.

    Returns ``None`` when the CLI fails, times out or prints no recognisable version.
    """
    from clinvoker.request import Command
    from clinvoker.runner import Runner

    cache = cache if cache is not None else default_cache()
    key = VersionCache.key(executable)
    if key is not None and (known := cache.get(key)) is not None:
        return known
    command = Command(argv=(executable, *backend.version_args))
    try:
        captured = await Runner(grace_s=0.5).capture(command, timeout_s=timeout_s)
    except ClinvokerError:
        return None
    if captured.exit.exit_code != 0 or captured.exit.timed_out:
        return None
    text = captured.stdout.decode("utf-8", "replace") or captured.exit.stderr
    version = backend.parse_version(text)
    if version is not None and key is not None:
        cache.put(key, version)
    return version


async def check_backend(
    backend: Backend,
    config: Config | None = None,
    *,
    probe: bool = True,
    cache: VersionCache | None = None,
) -> Availability:
    """Whether ``backend``'s CLI is installed, where, and (with ``probe``) which version."""
    enabled = config is None or config.backend(backend.name).enabled is not False
    path = find_executable(backend, config)
    base = Availability(
        backend=backend.name,
        executable=backend.executable,
        installed=path is not None,
        enabled=enabled,
        path=path,
        tested_versions=backend.tested_versions,
        install_hint=backend.install_hint,
    )
    if path is None:
        return msgspec.structs.replace(base, error=_missing_message(backend, config))
    if not probe:
        return base
    version = await probe_version(backend, path, cache=cache)
    if version is None:
        return msgspec.structs.replace(
            base, error=f"`{backend.executable} {' '.join(backend.version_args)}` gave no version"
        )
    return msgspec.structs.replace(base, version=version, tested=backend.is_tested_version(version))


async def check_backends(
    host: PluginHost | None = None,
    config: Config | None = None,
    *,
    names: Iterable[str] | None = None,
    probe: bool = True,
    cache: VersionCache | None = None,
) -> list[Availability]:
    """:func:`check_backend` for every registered backend (in name order) or for ``names``
    (in the order given), probing concurrently."""
    if host is None:
        from clinvoker.plugins import get_host

        host = get_host()
    import asyncio

    chosen = [host.backend(n) for n in names] if names is not None else list(host.backends.values())
    reports = await asyncio.gather(
        *(check_backend(b, config, probe=probe, cache=cache) for b in chosen)
    )
    return list(reports)


def check_backends_sync(
    host: PluginHost | None = None,
    config: Config | None = None,
    *,
    names: Iterable[str] | None = None,
    probe: bool = True,
) -> list[Availability]:
    """:func:`check_backends` for code without an event loop (``clinvk backends``)."""
    import asyncio

    return asyncio.run(check_backends(host, config, names=names, probe=probe))
