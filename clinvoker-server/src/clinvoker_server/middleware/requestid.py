"""Request ids, and one canonical path for everything after this middleware.

The id is the client's ``X-Request-ID`` when it is a short token of safe characters, else a new
``req_<hex>``. It is echoed as ``x-request-id`` on every response (and also as ``request-id`` on
the Anthropic routes, where the SDK reads it) and put in the request state for logs and errors.

The path is normalised here — percent-decoded (by the server), repeated slashes collapsed, ``.``
and ``..`` resolved, trailing slash dropped — so routing and the auth decision see the same path.
"""

from __future__ import annotations

import posixpath
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinvoker_server.middleware._common import header, state

__all__ = ["RequestIdMiddleware", "normalize_path"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def normalize_path(path: str) -> str:
    """``//api/./v1//x/`` → ``/api/v1/x``; never escapes the root."""
    if not path.startswith("/"):
        path = "/" + path
    norm = posixpath.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


class RequestIdMiddleware:
    """Outermost middleware: request id, echo header, path normalisation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming if _SAFE_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        state(scope)["request_id"] = request_id
        path = normalize_path(scope.get("path", "/"))
        scope["path"] = path
        echo = [(b"x-request-id", request_id.encode())]
        if path.startswith("/anthropic/"):
            echo.append((b"request-id", request_id.encode()))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *echo]
            await send(message)

        await self.app(scope, receive, send_with_id)
