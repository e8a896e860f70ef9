"""One structured log line per request (JSON, or ``key=value`` text).

Logged: time, request id, method, path, route template, status, response bytes, duration, client
address and the *name* of the API key (never the key, the query string or any header value).
The audit log of runs is separate (:mod:`clinvoker_server.audit`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinvoker_server.middleware._common import state

__all__ = ["ACCESS_LOGGER", "AccessLogMiddleware"]

ACCESS_LOGGER = logging.getLogger("clinvoker_server.access")
_encode = msgspec.json.Encoder().encode


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/sessions/{id}``), or ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class AccessLogMiddleware:
    """Logs every HTTP request after its response is complete."""

    def __init__(self, app: ASGIApp, *, fmt: str = "json") -> None:
        self.app = app
        self.fmt = fmt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0
        size = 0

        async def recording_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self._emit(scope, status or 500, size, time.perf_counter() - start)

    def _emit(self, scope: Scope, status: int, size: int, elapsed: float) -> None:
        if not ACCESS_LOGGER.isEnabledFor(logging.INFO):
            return
        st = state(scope)
        principal = st.get("principal")
        record: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "msg": "request",
            "request_id": st.get("request_id"),
            "method": scope.get("method"),
            "path": scope.get("path"),
            "route": route_template(scope),
            "status": status,
            "bytes": size,
            "duration_ms": round(elapsed * 1000, 3),
            "client": st.get("client_ip") or (scope.get("client") or ("",))[0],
            "key": getattr(principal, "name", None),
        }
        if self.fmt == "json":
            line = _encode(record).decode()
        else:
            line = " ".join(f"{k}={v}" for k, v in record.items() if v is not None)
        ACCESS_LOGGER.info(line)
