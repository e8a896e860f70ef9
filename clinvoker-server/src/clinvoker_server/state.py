"""What every handler needs, built once per application: :class:`ServerState`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from clinvoker.errors import Cancelled
from starlette.requests import Request

from clinvoker_server.auth import ANONYMOUS, Principal

if TYPE_CHECKING:
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost
    from clinvoker.sessions import SessionStore

    from clinvoker_server.audit import AuditLog
    from clinvoker_server.auth import KeyRing
    from clinvoker_server.health import Availability
    from clinvoker_server.models import ModelRouter
    from clinvoker_server.ratelimit import RateLimiter
    from clinvoker_server.reload import Reloader
    from clinvoker_server.runs import Runs
    from clinvoker_server.settings import Settings
    from clinvoker_server.telemetry import Telemetry
    from clinvoker_server.workdir import WorkdirPolicy

__all__ = ["ServerState", "principal_of", "server_of", "until_disconnect"]

T = TypeVar("T")


@dataclass(eq=False)
class ServerState:
    """The long-lived services of one server and its current :class:`Settings`.

    ``settings`` is replaced as a whole on reload (:meth:`apply`); the properties below read the
    current generation, so take ``server.settings`` once when several values must agree.
    """

    settings: Settings
    host: PluginHost
    runs: Runs
    telemetry: Telemetry
    limiter: RateLimiter
    audit: AuditLog
    store_override: SessionStore | None = None
    reloader: Reloader | None = None
    started: float = field(default_factory=time.monotonic)
    created: int = field(default_factory=lambda: int(time.time()))
    _store: Any = None

    def apply(self, settings: Settings) -> None:
        """Swap in a new generation of settings (one atomic assignment)."""
        self.settings = settings

    @property
    def config(self) -> Config:
        """The current configuration."""
        return self.settings.config

    @property
    def keys(self) -> KeyRing:
        """The current API keys."""
        return self.settings.keys

    @property
    def router(self) -> ModelRouter:
        """The current model routing."""
        return self.settings.router

    @property
    def workdirs(self) -> WorkdirPolicy:
        """The current workdir allow/deny lists."""
        return self.settings.workdirs

    @property
    def availability(self) -> Availability:
        """Backend CLI availability under the current configuration."""
        return self.settings.availability

    @property
    def keepalive(self) -> float:
        """Seconds between keep-alive frames (0 = none)."""
        return float(self.config.server.keepalive_secs)

    def store(self) -> SessionStore:
        """The session store (opened on first use)."""
        if self.store_override is not None:
            return self.store_override
        if self._store is None:
            from clinvoker.sessions import open_store

            self._store = open_store(self.config, self.host)
        store: SessionStore = self._store
        return store


def server_of(request: Request) -> ServerState:
    """The :class:`ServerState` of the application serving ``request``."""
    state: ServerState = request.app.state.server
    return state


def principal_of(request: Request) -> Principal:
    """Who made the request (set by the auth middleware)."""
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else ANONYMOUS


def request_id_of(request: Request) -> str | None:
    """The request id (set by the request-id middleware)."""
    rid = request.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else None


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it if the client disconnects first (raises :class:`Cancelled`)."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (watcher, task):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
    if task.cancelled():
        raise Cancelled("the client disconnected before the run finished")
    return task.result()
