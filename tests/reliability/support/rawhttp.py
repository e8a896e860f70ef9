"""HTTP/1.1 requests written byte for byte, so the path reaches the server exactly as given.

Clients like httpx normalise URLs (dot segments, percent-encoding) before sending; an attacker
does not. :func:`raw_request` sends the request line and headers verbatim on a fresh socket and
returns the status code and body.
"""

from __future__ import annotations

import socket
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["RawResponse", "raw_request", "send_request"]


class RawResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def send_request(
    url: str,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10.0,
) -> socket.socket:
    """Send the request and return the open socket, without reading the answer."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    all_headers = dict(headers or {})
    if body or method in ("POST", "PUT", "PATCH", "DELETE"):
        all_headers.setdefault("Content-Type", "application/json")
        all_headers["Content-Length"] = str(len(body))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(request)
    except BaseException:
        sock.close()
        raise
    return sock


def raw_request(
    url: str,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10.0,
) -> RawResponse:
    """Send ``METHOD target HTTP/1.1`` to the server at ``url`` and read the whole answer."""
    with send_request(url, method, target, headers, body, timeout) as sock:
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        rest = _unchunk(rest)
    return RawResponse(int(status_line.split()[1]), parsed, rest)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)
