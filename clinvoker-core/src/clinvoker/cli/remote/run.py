"""One prompt running on a server: :class:`RemoteRun`, iterated like a local ``RunHandle``.

The server streams clinvoker's own events as NDJSON (``wire_format: clinvk``); they are decoded
back into the same :class:`~clinvoker.events.Event` objects, numbered by the server, the last a
:class:`~clinvoker.events.Done` with the whole result. Lines are read in a worker thread so the
event loop stays free for Ctrl-C / SIGTERM: leaving the run early (``async with`` exit,
cancellation) shuts the socket down, the server sees the disconnect and cancels the run, which
stops the backend's whole process group there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import msgspec

from clinvoker.cli.remote.errors import ServerError
from clinvoker.errors import Cancelled
from clinvoker.events import Done, Event

if TYPE_CHECKING:
    from clinvoker.cli.remote.http import Stream
    from clinvoker.result import Result

__all__ = ["LineReader", "RemoteBackend", "RemoteRun"]


class RemoteBackend:
    """What the renderers need to know of the backend a remote run uses: its name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<RemoteBackend {self.name!r}>"


class _Native(msgspec.Struct, tag="native", tag_field="type"):
    line: str


_decoder: msgspec.json.Decoder[Event | _Native] = msgspec.json.Decoder(Event | _Native)


class LineReader:
    """Reads a :class:`Stream` line by line off the event loop; :meth:`close` stops it at once."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    async def readline(self) -> bytes:
        """The next line, ``b""`` at the end."""
        if self._closed:
            return b""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clinvk-remote")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.stream.readline)

    def close(self) -> None:
        """Stop reading: unblock a pending read, wait for the reader thread, release the answer."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self.stream.abort()
            self._pool.shutdown(wait=True)
        self.stream.close()

    def finish(self) -> None:
        """The answer was read to its end: release it (the connection can be reused)."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.stream.close()


class RemoteRun:
    """A run on the server: ``async with run: async for event in run`` (like ``RunHandle``).

    :ivar backend: the backend the server runs it on (``.name``).
    :ivar session_id: the clinvk session on the server (``None`` when ephemeral).
    :ivar on_native_line: called with each raw stdout line of the CLI (``--native``).
    """

    def __init__(self, stream: Stream, *, backend: str, session_id: str | None) -> None:
        self.backend = RemoteBackend(backend)
        self.session_id = session_id
        self.url = stream.url
        self.on_native_line: Callable[[bytes], None] | None = None
        self._reader = LineReader(stream)
        self._gen: AsyncGenerator[Event, None] | None = None
        self._result: Result | None = None

    def __aiter__(self) -> AsyncIterator[Event]:
        if self._gen is None:
            self._gen = self._events()
        return self._gen

    async def _events(self) -> AsyncGenerator[Event, None]:
        try:
            while self._result is None:
                line = await self._reader.readline()
                if not line:
                    raise ServerError(
                        f"the server at {self.url} ended the run's stream before its result",
                        hint="See the server's log",
                    )
                item = self._decode(line)
                if isinstance(item, _Native):
                    if self.on_native_line is not None:
                        self.on_native_line(item.line.encode())
                    continue
                if item is None:
                    continue
                if isinstance(item, Done):
                    self._result = item.result
                yield item
            while await self._reader.readline():  # the end of the answer follows at once
                pass
            self._reader.finish()
        finally:
            self._reader.close()

    def _decode(self, line: bytes) -> Event | _Native | None:
        if not line.strip():
            return None  # a keep-alive
        try:
            return _decoder.decode(line)
        except msgspec.ValidationError:
            return None  # an event type this clinvk does not know yet
        except msgspec.DecodeError:
            raise ServerError(
                f"the server at {self.url} sent a line that is not JSON: {line[:80]!r}",
                hint="Check that --server points at a clinvoker server",
            ) from None

    async def result(self) -> Result:
        """Run to the end and return the result.

        :raises Cancelled: the run was left before the server sent its result.
        """
        if self._gen is None:
            async for _ in self:
                pass
        if self._result is None:
            raise Cancelled(f"the {self.backend.name} run was stopped before it finished")
        return self._result

    async def aclose(self) -> None:
        """Stop reading; if the run has not finished, the server cancels it."""
        if self._gen is not None:
            with contextlib.suppress(RuntimeError):
                await self._gen.aclose()
        self._reader.close()

    async def __aenter__(self) -> RemoteRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
