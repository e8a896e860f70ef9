"""``GET /health`` and backend availability.

Status: ``ok``; ``degraded`` when a registered backend's CLI is not installed (or none is
registered); ``unhealthy`` when the session store cannot be read or a key source failed (the
server then refuses every other request; ``auth.error`` says why). Always HTTP 200 (as in the Go
tool) so a probe can read the details; ``/health`` needs no API key.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from clinvoker_server import __version__
from clinvoker_server.jsonio import json_response
from clinvoker_server.state import server_of

if TYPE_CHECKING:
    from clinvoker.backend import Backend
    from clinvoker.config import Config

__all__ = ["Availability", "health"]


class _BackendHealth(msgspec.Struct, kw_only=True):
    name: str
    available: bool


class _StoreHealth(msgspec.Struct, kw_only=True, omit_defaults=True):
    available: bool
    session_count: int = 0
    error: str | None = None


class _AuthHealth(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: str
    """``off`` (no keys), ``ok``, or ``failed`` (a key source failed: every request is refused)."""
    error: str | None = None


class HealthReport(msgspec.Struct, kw_only=True):
    """The ``/health`` body."""

    status: str
    version: str
    uptime: str
    uptime_ms: int
    backends: list[_BackendHealth]
    session_store: _StoreHealth
    active_runs: int
    auth: _AuthHealth


class Availability:
    """Whether each backend's executable can be found (cached for a few seconds)."""

    def __init__(self, config: Config, ttl: float = 5.0) -> None:
        self.config = config
        self.ttl = ttl
        self._cache: dict[str, tuple[float, str | None]] = {}

    def executable(self, backend: Backend) -> str | None:
        """The resolved path of ``backend``'s CLI, or ``None`` when it is not installed."""
        now = time.monotonic()
        hit = self._cache.get(backend.name)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        from clinvoker.availability import find_executable

        found = find_executable(backend, self.config)
        self._cache[backend.name] = (now, found)
        return found


def _uptime(seconds: float) -> str:
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    return f"{m}m{s}s" if m else f"{s}s"


async def health(request: Request) -> Response:
    """The route handler."""
    server = server_of(request)
    backends = [
        _BackendHealth(name=name, available=server.availability.executable(b) is not None)
        for name, b in server.host.backends.items()
    ]
    try:
        count = await asyncio.to_thread(lambda: server.store().count())
        store = _StoreHealth(available=True, session_count=count)
    except Exception as exc:
        store = _StoreHealth(available=False, error=f"{type(exc).__name__}: {exc}")
    status = "ok"
    if not backends or not all(b.available for b in backends):
        status = "degraded"
    keys = server.keys
    auth = _AuthHealth(status="failed" if keys.error else "ok" if keys.enabled else "off")
    if keys.error:
        auth.error = f"{keys.error}; every API request is refused until a reload succeeds"
    if not store.available or keys.error:
        status = "unhealthy"
    uptime = time.monotonic() - server.started
    report = HealthReport(
        status=status,
        version=__version__,
        uptime=_uptime(uptime),
        uptime_ms=int(uptime * 1000),
        backends=backends,
        session_store=store,
        active_runs=len(server.runs.active),
        auth=auth,
    )
    return json_response(report)
