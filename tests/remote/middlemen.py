"""What may stand between ``clinvk --server`` and the server, on 127.0.0.1, for tests.

* :func:`make_certificates` — a throwaway CA and a server certificate it signed (``openssl``).
* :class:`TlsFront` — answers TLS with that certificate and passes the plaintext on to a
  plain-http server (``clinvk serve`` has no TLS of its own: in production this is the reverse
  proxy in front of it).
* :class:`HttpProxy` — an HTTP proxy: ``CONNECT host:port`` tunnels, and absolute-form requests
  forwarded one per connection (``Connection: close``). ``requests`` lists what it was asked
  (``"CONNECT 127.0.0.1:8443"``, ``"POST http://127.0.0.1:8080/api/v1/prompt"``) and
  ``credentials`` the ``Proxy-Authorization`` headers it got.

Both relay bytes as they come (a stream stays a stream) with an asyncio loop in a thread; use
them as context managers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Certificates", "HttpProxy", "TlsFront", "make_certificates"]


class Certificates:
    """Paths of a CA certificate and of a server certificate and key it signed."""

    def __init__(self, ca: Path, cert: Path, key: Path) -> None:
        self.ca = ca
        self.cert = cert
        self.key = key


def make_certificates(directory: Path, name: str = "test") -> Certificates:
    """A new CA and a certificate for ``IP:127.0.0.1`` (only) signed by it, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / f"{name}-ca.pem", directory / f"{name}-ca.key"
    cert, key, csr = (directory / f"{name}-server.{ext}" for ext in ("pem", "key", "csr"))
    ext = directory / f"{name}-server.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
    for argv in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj",
         f"/CN=clinvk {name} CA", "-addext", ca_ext[0], "-addext", ca_ext[1]],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", "2",
         "-days", "2", "-out", cert, "-extfile", ext],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, argv)], check=True, capture_output=True)
    return Certificates(ca, cert, key)


class _Relay:
    """An asyncio server on 127.0.0.1 in a thread; subclasses say what a connection does."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def _tls(self) -> ssl.SSLContext | None:
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._connection, "127.0.0.1", 0, ssl=self._tls())

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away
        finally:
            await _close(writer)
            self._tasks.discard(task)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def __enter__(self) -> Any:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
        await writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy ``reader`` to ``writer`` as it arrives; close ``writer`` at the end."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        await _close(writer)


async def _relay(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


class TlsFront(_Relay):
    """TLS on ``port`` (with ``certificates``) in front of the plain-http server at ``upstream``."""

    def __init__(self, certificates: Certificates, upstream: int) -> None:
        super().__init__()
        self._certificates = certificates
        self._upstream = upstream

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._certificates.cert, self._certificates.key)
        return context

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await asyncio.open_connection("127.0.0.1", self._upstream)
        await _relay((reader, writer), upstream)


class HttpProxy(_Relay):
    """An HTTP proxy on ``port``; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []
        self.credentials: list[str] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").split("\r\n")[:-2]
        method, target, version = first.split(" ", 2)
        self.requests.append(f"{method} {target}")
        headers = [h for h in lines if not h.lower().startswith(("connection:", "proxy-"))]
        self.credentials += [
            h.split(":", 1)[1].strip()
            for h in lines
            if h.lower().startswith("proxy-authorization:")
        ]
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
        else:
            parts = urlsplit(target)
            host, port = parts.hostname or "", str(parts.port or 80)
        try:
            upstream = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.write(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            return
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            origin = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"
            request = [f"{method} {origin} {version}", *headers, "Connection: close", "", ""]
            upstream[1].write("\r\n".join(request).encode("latin-1"))
        await _relay((reader, writer), upstream)
