"""The request read deadline (``server.read_timeout_secs``; 0 = none).

The whole request body must arrive within ``read_timeout_secs`` of the request's start, as with
the Go tool's ``ReadTimeout``; a client that sends it too slowly (or stops half-way) gets 408 in
its API family's shape and the connection is closed, instead of holding a connection and a
handler open. Once the body is complete, ``receive`` goes straight to the server again, so a
long answer (a stream the client is silently reading) is never cut by this deadline.

The request line and headers are bounded by Hypercorn itself: a connection that has not sent a
complete request within its keep-alive timeout (``min(server.idle_timeout_secs, 5)`` s) is closed.
Hypercorn's own ``read_timeout`` is not used: it limits every wait for client bytes, also while
the answer is being sent, and reports the silence as a disconnect, which would cancel every run
longer than the timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from clinvoker.errors import ClinvokerError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinvoker_server.middleware._common import reject

__all__ = ["ReadTimeoutMiddleware", "RequestTimeout"]


class RequestTimeout(ClinvokerError):
    """The client did not send its request body within ``server.read_timeout_secs``."""

    exit_code = 2
    http_status = 408
    code = "request_timeout"


class ReadTimeoutMiddleware:
    """Answers 408 when the body is not complete within ``timeout()`` seconds (read per request)."""

    def __init__(self, app: ASGIApp, *, timeout: Callable[[], float]) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = float(self.timeout())
        if scope["type"] != "http" or limit <= 0:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        body_done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise RequestTimeout(
                    f"the request body was not received within {limit:g} s",
                    hint="send the whole body at once, or raise server.read_timeout_secs",
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except RequestTimeout as exc:  # raised by a middleware reading the body before the app
            if not started:
                await reject(scope, receive, send, exc)
