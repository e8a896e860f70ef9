"""Hot reload: on SIGHUP, or when the config file or the key file changes.

The :class:`Reloader` task polls the watched files every ``interval`` seconds (inode,
modification time and size — no extra dependency, and a file replaced by a rename is noticed
too). A reload loads the configuration again (same file, environment and command-line flags
as at start-up), runs the key sources again, and builds a new
:class:`~clinvoker_server.settings.Settings` off the event loop; only when all of that worked is
it swapped in. An invalid configuration is rejected with one logged line and the previous one
stays in force. Runs in flight are untouched: they keep the settings they started with.

A key command that fails on reload is not a rejected configuration: the server fails closed
until a later reload succeeds (see :mod:`clinvoker_server.keysources`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from clinvoker.errors import ClinvokerError

from clinvoker_server.audit import mask_keys
from clinvoker_server.settings import build_settings, restart_only_changes

if TYPE_CHECKING:
    from clinvoker.config import Config

    from clinvoker_server.settings import Settings
    from clinvoker_server.state import ServerState

__all__ = ["Reloader"]

log = logging.getLogger("clinvoker_server")

Stamp = tuple[int, int, int] | None


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class Reloader:
    """Watches the configuration of one server and reloads it.

    :param load: loads the configuration again; ``None`` keeps the current configuration and
        reloads only what it points to (key file, key commands).
    :param config_file: the file ``load`` reads, to watch (``None`` = none).
    """

    def __init__(
        self,
        server: ServerState,
        load: Callable[[], Config] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        *,
        interval: float = 0.5,
    ) -> None:
        self.server = server
        self.load = load
        self.config_file = Path(config_file).expanduser() if config_file else None
        self.interval = interval
        self.reloads = 0
        self.last_error: str | None = None
        self._wanted: list[str] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stamps = self._current_stamps()

    def _watched(self) -> list[Path]:
        paths = [self.config_file] if self.config_file is not None else []
        key_file = self.server.config.server.api_keys_file
        if key_file:
            paths.append(Path(key_file).expanduser())
        return paths

    def _current_stamps(self) -> dict[Path, Stamp]:
        return {p: _stamp(p) for p in self._watched()}

    def request(self, reason: str = "SIGHUP") -> None:
        """Ask for a reload (safe to call from a signal handler on the event loop)."""
        self._wanted.append(reason)
        self._wake.set()

    async def run(self) -> None:
        """Poll and reload until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            if self._wanted:
                reason = self._wanted[-1]
                self._wanted.clear()
                await self.reload(reason)
                continue
            stamps = self._current_stamps()
            changed = [p for p, s in stamps.items() if self._stamps.get(p, s) != s]
            self._stamps.update(stamps)
            if changed:
                await self.reload(f"{changed[0]} changed")

    async def reload(self, reason: str) -> bool:
        """Reload now (one reload at a time); ``True`` if the new settings are in force."""
        async with self._lock:
            return await self._reload(reason)

    async def _reload(self, reason: str) -> bool:
        server = self.server
        old = server.settings
        stamps = self._current_stamps()
        try:
            new = await asyncio.to_thread(self._build, old.generation + 1)
            server.audit.configure(new.config.server.audit_log)
        except Exception as exc:  # a ConfigError, or a bug: never stop watching
            message = (
                str(exc) if isinstance(exc, ClinvokerError) else f"{type(exc).__name__}: {exc}"
            )
            self.last_error = mask_keys(message, old.keys.is_key)
            self._stamps.update(stamps)
            log.error(
                "config reload rejected (%s): %s; keeping the previous configuration",
                reason,
                self.last_error,
            )
            return False
        server.apply(new)
        self._stamps = {**self._current_stamps(), **stamps}
        self.reloads += 1
        self.last_error = None
        log.info("configuration reloaded (%s)", reason)
        for key in restart_only_changes(old.config, new.config):
            log.warning("%s changed; restart the server to apply it", key)
        return True

    def _build(self, generation: int) -> Settings:
        config = self.load() if self.load is not None else self.server.config
        return build_settings(config, self.server.host, generation=generation)
