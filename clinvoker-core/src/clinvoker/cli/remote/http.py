"""HTTP to a clinvoker server with the standard library only: :class:`Connection` and :class:`Stream`.

One keep-alive connection serves the quick calls (sessions, backends); a streamed answer (a
prompt's events, an orchestration's progress) is read line by line as it arrives, from a
thread, and can be aborted at any moment (Ctrl-C): the socket is shut down, which makes the
server cancel the run. A reused connection that the server closed while idle is retried once.
The API key is sent as ``Authorization: Bearer`` and never printed.

``https://`` certificates are verified against the default store (``SSL_CERT_FILE`` /
``SSL_CERT_DIR`` name others); a certificate that fails is one line saying so. The proxy named
by ``HTTPS_PROXY`` / ``HTTP_PROXY`` is used unless ``NO_PROXY`` says otherwise
(:mod:`clinvoker.cli.remote.proxy`).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import msgspec

from clinvoker.cli.remote.errors import ServerError, ServerUnreachable, error_for_response
from clinvoker.cli.remote.proxy import Proxy, proxy_for
from clinvoker.errors import UsageError

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "Connection", "Endpoint", "Stream"]

T = TypeVar("T")

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the TCP (and TLS) connection."""
READ_TIMEOUT = 60.0
"""Seconds to wait for the answer of a quick call (streams wait as long as the run takes)."""

_RETRYABLE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)
_MAX_ERROR_BODY = 1 << 20
_START_HINT = "Start it with `clinvk serve`, or point --server / CLINVK_SERVER at a running one"


class Endpoint:
    """A checked ``--server`` URL: ``http(s)://host[:port][/prefix]``."""

    def __init__(self, url: str) -> None:
        text = url.strip()
        if "://" not in text:
            text = f"http://{text}"  # host:port
        example = "e.g. http://127.0.0.1:8080"
        try:
            parts = urlsplit(text)
        except ValueError:
            raise UsageError(f"--server {url!r} is not a valid URL ({example})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--server must be an http:// or https:// URL ({example}), got {url!r}"
            )
        if parts.username is not None or parts.password is not None:
            raise UsageError(
                "--server must not contain a user or password; put the API key in CLINVK_API_KEY"
            )
        if parts.query or parts.fragment:
            raise UsageError(f"--server must not have a query or fragment ({example}), got {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"--server {url!r} has an invalid port ({example})") from None
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.url = f"{self.origin}{self.prefix}"
        """The URL as messages show it."""


class Stream:
    """A streamed answer being read; :meth:`readline` may block (call it from a thread)."""

    def __init__(
        self,
        response: http.client.HTTPResponse,
        sock: socket.socket | None,
        owner: Connection,
    ) -> None:
        self.response = response
        self._sock = sock
        self._owner = owner
        self.url = owner.endpoint.url

    def header(self, name: str) -> str | None:
        """A response header (``None`` when absent)."""
        return self.response.getheader(name)

    def readline(self) -> bytes:
        """The next line (``b""`` at the end of the answer).

        :raises ServerError: the connection broke off.
        """
        try:
            return self.response.readline()
        except (OSError, ValueError, http.client.HTTPException):
            raise ServerError(
                f"the connection to the server at {self.url} broke off",
                hint="Check that the server is still running (see its log)",
            ) from None

    def abort(self) -> None:
        """Shut the socket down (a blocked :meth:`readline` returns; the server sees a disconnect)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Done with the answer: keep the connection if it was read to its end, else drop it."""
        if not self.response.isclosed():
            self.abort()
            self._owner.close()
            self.response.close()


class Connection:
    """Requests to one server, on one keep-alive connection."""

    def __init__(
        self,
        endpoint: Endpoint,
        api_key: str | None = None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.endpoint = endpoint
        self.proxy: Proxy | None = proxy_for(endpoint)
        """The HTTP proxy on the way (from the environment), if any."""
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._headers = {"User-Agent": "clinvk", "Accept-Encoding": "identity"}
        if api_key:
            if any(c in api_key for c in "\r\n\0"):
                raise UsageError(
                    "the API key contains a line break or NUL character; "
                    "check CLINVK_API_KEY / --api-key"
                )
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._conn: http.client.HTTPConnection | None = None

    # -- calls ---------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        type: type[T],
    ) -> T:
        """A quick JSON call; the answer decoded as ``type``.

        :raises ClinvokerError: the server's error answer, mapped to the local error class.
        """
        if query:
            params = {k: v for k, v in query.items() if v is not None and v != ""}
            path = f"{path}?{urlencode(params)}" if params else path
        response, _ = self._send(method, path, body, "application/json", self.read_timeout)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise self._unreachable(exc, reading=True) from None
        self._check(response, data)
        try:
            return msgspec.json.decode(data, type=type)
        except msgspec.DecodeError as exc:
            raise ServerError(
                f"the server at {self.endpoint.url} sent an answer clinvk cannot read: {exc}",
                hint="Check that --server points at a clinvoker server of a matching version",
            ) from None

    def stream(self, method: str, path: str, *, body: Any) -> Stream:
        """Send the request and return its streamed answer (after checking the status)."""
        response, sock = self._send(method, path, body, "application/x-ndjson", None)
        if not 200 <= response.status < 300:
            try:
                data = response.read(_MAX_ERROR_BODY)
            except (OSError, http.client.HTTPException):
                data = b""
            self.close()
            self._check(response, data)
        return Stream(response, sock, self)

    def abort(self) -> None:
        """Shut the connection's socket down: a call blocked in another thread returns at once."""
        conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Drop the connection (a new one is made for the next call)."""
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None

    # -- plumbing ------------------------------------------------------------------------------

    def _new(self) -> http.client.HTTPConnection:
        e, proxy = self.endpoint, self.proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (e.host, e.port)
        if e.scheme != "https":
            return http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        import ssl

        context = ssl.create_default_context()
        conn = http.client.HTTPSConnection(
            host, port, timeout=self.connect_timeout, context=context
        )
        if proxy is not None:  # TLS with the server itself, inside a CONNECT tunnel
            conn.set_tunnel(e.host, e.port, headers=proxy.headers)
        return conn

    def _target(self, path: str) -> tuple[str, dict[str, str]]:
        """The request target and the proxy's headers (absolute-form through an http proxy)."""
        target = self.endpoint.prefix + path
        proxy = self.proxy
        if proxy is None or self.endpoint.scheme == "https":
            return target, {}
        return f"{self.endpoint.origin}{target}", proxy.headers

    def _send(
        self, method: str, path: str, body: Any, accept: str, timeout: float | None
    ) -> tuple[http.client.HTTPResponse, socket.socket | None]:
        """The response and the socket it arrives on.

        The socket is kept even when http.client hands it over to the response (``Connection:
        close``), so that a stream can always be shut down.
        """
        data = msgspec.json.encode(body) if body is not None else None
        target, proxy_headers = self._target(path)
        headers = {**self._headers, **proxy_headers, "Accept": accept}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._new()
            conn = self._conn
            reused = conn.sock is not None
            try:
                if conn.sock is None:
                    conn.connect()
            except OSError as exc:
                self.close()
                raise self._unreachable(exc) from None
            try:
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.request(method, target, body=data, headers=headers)
                sock = conn.sock
                return conn.getresponse(), sock
            except _RETRYABLE as exc:
                self.close()
                if not reused or attempt == 2:
                    raise self._unreachable(exc, reading=True) from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise self._unreachable(exc, reading=True) from None
        raise AssertionError("not reached")  # pragma: no cover

    def _check(self, response: http.client.HTTPResponse, data: bytes) -> None:
        if 200 <= response.status < 300:
            return
        raise error_for_response(
            response.status,
            response.reason,
            data,
            url=self.endpoint.url,
            retry_after=response.getheader("retry-after"),
            proxy=self.proxy,
        )

    def _unreachable(self, exc: BaseException, *, reading: bool = False) -> ServerUnreachable:
        url = self.endpoint.url
        tls = None if reading else _handshake_failure(exc, url)
        if tls is not None:
            return tls
        proxy = self.proxy
        if proxy is not None and not reading:
            return _proxy_failure(exc, proxy, url, self.connect_timeout)
        if isinstance(exc, ConnectionRefusedError):
            return ServerUnreachable(
                f"cannot connect to the clinvoker server at {url}: connection refused",
                hint=_START_HINT,
            )
        if isinstance(exc, socket.gaierror):
            return ServerUnreachable(
                f"cannot find the host of the clinvoker server {url}: {exc.strerror or exc}",
                hint="Check the URL in --server / CLINVK_SERVER",
            )
        if isinstance(exc, TimeoutError):
            limit = self.read_timeout if reading else self.connect_timeout
            return ServerUnreachable(
                f"the clinvoker server at {url} did not answer within {limit:g} s",
                hint="Check that it is running and reachable from here",
            )
        if isinstance(exc, _RETRYABLE):
            return ServerUnreachable(
                f"the clinvoker server at {url} closed the connection without answering",
                hint="Check the server's log (is it a clinvoker server, over http or https?)",
            )
        return ServerUnreachable(
            f"cannot talk to the clinvoker server at {url}: {_reason(exc)}", hint=_START_HINT
        )


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _handshake_failure(exc: BaseException, url: str) -> ServerUnreachable | None:
    """The message for a failed TLS handshake (``None``: ``exc`` is not one)."""
    import ssl  # already loaded by http.client

    if not isinstance(exc, ssl.SSLError):
        return None
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = str(exc.verify_message or exc.reason or "verification failed").rstrip(".")
        return ServerUnreachable(
            f"the certificate of the clinvoker server at {url} is not trusted: {why}",
            hint="If the server's certificate comes from your own CA, point SSL_CERT_FILE at "
            "that CA's certificate (PEM)",
        )
    why = str(exc.reason or exc).lower().replace("_", " ")
    return ServerUnreachable(
        f"the TLS handshake with the clinvoker server at {url} failed: {why}",
        hint="Check that the server serves https:// at that address (or use http://)",
    )


def _proxy_failure(exc: BaseException, proxy: Proxy, url: str, timeout: float) -> ServerUnreachable:
    """The message for a connection through ``proxy`` that failed before any answer."""
    hint = f"Check {proxy.variable}, or add the server's host to NO_PROXY to go direct"
    via = f"the proxy {proxy.url} (from {proxy.variable})"
    if isinstance(exc, ConnectionRefusedError):
        return ServerUnreachable(f"cannot connect to {via}: connection refused", hint=hint)
    if isinstance(exc, socket.gaierror):
        why = exc.strerror or exc
        return ServerUnreachable(f"cannot find the host of {via}: {why}", hint=hint)
    if isinstance(exc, TimeoutError):
        return ServerUnreachable(
            f"{via} or the clinvoker server at {url} did not answer within {timeout:g} s",
            hint=hint,
        )
    reason = _reason(exc)
    if reason.startswith("Tunnel connection failed: "):  # http.client: CONNECT not answered 200
        answer = reason.removeprefix("Tunnel connection failed: ")
        return ServerUnreachable(
            f"{via} did not open a connection to the clinvoker server at {url}: {answer}",
            hint=hint,
        )
    return ServerUnreachable(f"cannot talk to the clinvoker server at {url} via {via}: {reason}")
