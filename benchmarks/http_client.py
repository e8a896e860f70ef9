"""A minimal HTTP/1.1 client on asyncio streams, for load generation on 127.0.0.1.

Small on purpose: a full client costs CPU on the same two cores the server needs, and every
microsecond it spends is counted as server latency. One :class:`Connection` is one keep-alive
TCP connection; :meth:`Connection.post` returns the whole body, :meth:`Connection.stream`
yields body pieces (de-chunked) with the monotonic time (ns) each piece was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["Connection", "HTTPError", "Response"]


class HTTPError(Exception):
    """The server answered with an unexpected status, or the connection broke."""


@dataclass(frozen=True)
class Response:
    """Status, lower-cased headers and body of one response."""

    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive connection to ``127.0.0.1:port``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20
            )
        return self._reader, self._writer

    async def close(self) -> None:
        """Close the connection (if open)."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def _send(self, path: str, body: bytes) -> asyncio.StreamReader:
        reader, writer = await self._open()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        return reader

    async def _head(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise HTTPError("connection closed before a response") from exc
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def _pieces(
        self, reader: asyncio.StreamReader, headers: dict[str, str]
    ) -> AsyncIterator[bytes]:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return
                data = await reader.readexactly(size + 2)
                yield data[:-2]
        elif "content-length" in headers:
            yield await reader.readexactly(int(headers["content-length"]))
        else:
            yield await reader.read()
            await self.close()

    async def post(self, path: str, body: bytes) -> Response:
        """POST ``body`` (JSON) and read the whole response."""
        reader = await self._send(path, body)
        status, headers = await self._head(reader)
        data = b"".join([piece async for piece in self._pieces(reader, headers)])
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, data)

    async def stream(self, path: str, body: bytes) -> AsyncIterator[tuple[int, bytes]]:
        """POST and yield ``(monotonic ns when read, piece)`` for each piece of the body."""
        reader = await self._send(path, body)
        status, headers = await self._head(reader)
        if status != 200:
            data = b"".join([piece async for piece in self._pieces(reader, headers)])
            raise HTTPError(f"HTTP {status}: {data[:300]!r}")
        async for piece in self._pieces(reader, headers):
            yield time.monotonic_ns(), piece
