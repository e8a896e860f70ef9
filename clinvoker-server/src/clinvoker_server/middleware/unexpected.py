"""The innermost safety net: an unexpected exception becomes a 500 in the family's error shape.

It sits inside the other middleware, so the answer still carries the request id, CORS headers
and an access-log line. The traceback goes to the server log, never to the client. A failure
after a (streaming) response has started cannot be answered and is re-raised.
"""

from __future__ import annotations

import logging

from clinvoker.errors import ClinvokerError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinvoker_server.middleware._common import reject, state

__all__ = ["UnexpectedErrorMiddleware"]

log = logging.getLogger("clinvoker_server")


class UnexpectedErrorMiddleware:
    """Turns a bug into a clean 500 instead of a dropped connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            request_id = state(scope).get("request_id")
            log.error(
                "unhandled error on %s %s (request %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
                exc_info=exc,
            )
            error = ClinvokerError(
                f"internal server error ({type(exc).__name__})",
                hint=f"see the server log for request {request_id}",
            )
            await reject(scope, receive, send, error)
