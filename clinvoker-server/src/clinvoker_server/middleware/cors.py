"""CORS, answered before authentication so a browser's preflight works with keys on.

Allowed origins come from ``server.cors_allowed_origins`` (``*`` wildcards allowed, e.g.
``http://localhost:*``); the default is ``http://localhost:*`` and ``http://127.0.0.1:*``. A
preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from an allowed
origin gets 204 with the allowed methods and the requested headers; from any other origin, 403.
Any other ``OPTIONS`` request is an ordinary request and needs a key like everything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from clinvoker.errors import Forbidden
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinvoker_server.middleware._common import header, reject

__all__ = ["CORSMiddleware", "CorsPolicy"]

DEFAULT_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSE_HEADERS = "x-request-id, request-id, retry-after, retry-after-ms, link"


def _pattern(origins: Iterable[str]) -> re.Pattern[str]:
    parts = [re.escape(o.strip().rstrip("/")).replace(r"\*", "[^/]*") for o in origins if o.strip()]
    return re.compile("^(?:" + "|".join(parts or ["(?!)"]) + ")$")


class CorsPolicy:
    """The allowed origins and what to answer them (immutable; rebuilt on reload)."""

    def __init__(
        self, origins: Iterable[str] = (), *, allow_credentials: bool = False, max_age: int = 0
    ) -> None:
        origins = list(origins) or list(DEFAULT_ORIGINS)
        self.any_origin = "*" in origins
        self.allowed = _pattern(origins)
        self.allow_credentials = allow_credentials
        self.max_age = str(max_age if max_age > 0 else 300)

    def origin_allowed(self, origin: str) -> bool:
        """Whether ``origin`` matches the allowed origins."""
        return self.any_origin or bool(self.allowed.match(origin))

    def allow_origin(self, origin: str) -> bytes:
        """The ``Access-Control-Allow-Origin`` value for ``origin``."""
        if self.any_origin and not self.allow_credentials:
            return b"*"
        return origin.encode("latin-1")


class CORSMiddleware:
    """Adds CORS headers for allowed origins and answers preflights.

    ``policy`` is called per request, so a reloaded configuration applies at once.
    """

    def __init__(self, app: ASGIApp, *, policy: Callable[[], CorsPolicy]) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = header(scope, b"origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        policy = self.policy()
        allowed = policy.origin_allowed(origin)
        if scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method"):
            if not allowed:
                await reject(
                    scope,
                    receive,
                    send,
                    Forbidden(
                        f"origin {origin!r} is not allowed",
                        hint="add it to server.cors_allowed_origins",
                    ),
                )
                return
            await self._preflight(scope, send, origin, policy)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return
        extra = [
            (b"access-control-allow-origin", policy.allow_origin(origin)),
            (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
            (b"vary", b"Origin"),
        ]
        if policy.allow_credentials:
            extra.append((b"access-control-allow-credentials", b"true"))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, send: Send, origin: str, policy: CorsPolicy) -> None:
        requested = header(scope, b"access-control-request-headers")
        headers = [
            (b"access-control-allow-origin", policy.allow_origin(origin)),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-max-age", policy.max_age.encode()),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        if requested:
            headers.append((b"access-control-allow-headers", requested.encode("latin-1")))
        if policy.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
