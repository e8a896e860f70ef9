"""The request body limit (``server.max_request_body_bytes``; 0 = none).

A ``Content-Length`` over the limit is refused at once. Any other body (chunked, or a lying
length) is read in full up to the limit *before* the application is called, so a 413 always comes
before the handler sees a byte; the buffered body is then replayed to the application, and later
``receive`` calls (disconnect detection for streams) go straight to the server.
"""

from __future__ import annotations

from collections.abc import Callable

from clinvoker.errors import RequestTooLarge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinvoker_server.middleware._common import header, reject

__all__ = ["BodySizeMiddleware"]

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class BodySizeMiddleware:
    """Refuses bodies over ``limit()`` bytes (read per request) with 413 in the family's shape."""

    def __init__(self, app: ASGIApp, *, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    @staticmethod
    def _too_large(limit: int) -> RequestTooLarge:
        return RequestTooLarge(
            f"request body exceeds the size limit of {limit} bytes",
            hint="send a smaller body or raise server.max_request_body_bytes",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit()
        if scope["type"] != "http" or limit <= 0:
            await self.app(scope, receive, send)
            return
        length = header(scope, b"content-length")
        if length:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > limit:
                await reject(scope, receive, send, self._too_large(limit))
                return
            if declared == 0:
                await self.app(scope, receive, send)
                return
        elif scope["method"] in _NO_BODY and not header(scope, b"transfer-encoding"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            total += len(body)
            if total > limit:
                await reject(scope, receive, send, self._too_large(limit))
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
