"""Streaming responses: SSE / NDJSON framing, keep-alives, and client disconnects.

:class:`StreamResponse` sends each frame the moment it is produced (one ASGI body message per
frame, which Hypercorn writes and flushes at once). While the producer is quiet for
``keepalive`` seconds it sends a keep-alive frame (``: keepalive`` comment on OpenAI/native SSE,
``event: ping`` on Anthropic, an empty line for NDJSON is not used). When the client disconnects,
the producer task is cancelled and the frame iterator closed — which cancels the backend run and
kills its process group — before the response returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.types import Receive, Scope, Send

__all__ = [
    "KEEPALIVE_COMMENT",
    "KEEPALIVE_PING",
    "SSE_HEADERS",
    "StreamResponse",
    "sse_data",
    "sse_event",
]

log = logging.getLogger("clinvoker_server")

KEEPALIVE_COMMENT = b": keepalive\n\n"
KEEPALIVE_PING = b'event: ping\ndata: {"type":"ping"}\n\n'

SSE_HEADERS: dict[str, str] = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


def sse_data(payload: bytes) -> bytes:
    """A data-only SSE frame (OpenAI chat chunks)."""
    return b"data: " + payload + b"\n\n"


def sse_event(name: str, payload: bytes) -> bytes:
    """An SSE frame with an ``event:`` line (Anthropic events, OpenAI responses events)."""
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


class StreamResponse:
    """An ASGI response streaming ``frames`` with keep-alives and disconnect handling."""

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        media_type: str,
        keepalive: float = 0.0,
        keepalive_frame: bytes = KEEPALIVE_COMMENT,
        headers: dict[str, str] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.frames = frames
        self.media_type = media_type
        self.keepalive = keepalive
        self.keepalive_frame = keepalive_frame
        self.headers = {**SSE_HEADERS, **(headers or {})}
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = [(b"content-type", self.media_type.encode())]
        raw_headers += [(k.encode(), v.encode()) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                if not task.done():
                    task.cancel()
            for task in (pump, watch):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.frames.aclose()  # type: ignore[attr-defined]
            if self.on_close is not None:
                await self.on_close()
        if pump.done() and not pump.cancelled():
            failure = pump.exception()
            if failure is None:
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif not isinstance(failure, OSError):
                # The response is cut without its end, so the client sees a broken stream.
                log.error("stream failed on %s", scope.get("path"), exc_info=failure)

    async def _pump(self, send: Send) -> None:
        it = self.frames.__aiter__()
        pending: asyncio.Future[bytes] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(it.__anext__())
                if self.keepalive > 0:
                    done, _ = await asyncio.wait({pending}, timeout=self.keepalive)
                    if not done:
                        await send(
                            {
                                "type": "http.response.body",
                                "body": self.keepalive_frame,
                                "more_body": True,
                            }
                        )
                        continue
                try:
                    frame = await pending
                except StopAsyncIteration:
                    return
                finally:
                    pending = None
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
