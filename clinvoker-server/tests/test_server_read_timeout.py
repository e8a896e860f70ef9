"""``server.read_timeout_secs``: a request body must arrive in time; a long answer is never cut.

A client that announces a body and then stalls gets 408 in its API's error shape and its
connection closed, instead of holding a handler open. The deadline only covers reading the
request: a streamed answer that lasts longer than it reaches its end.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from conftest import Running

CHAT = "/openai/v1/chat/completions"
BODY = json.dumps({"prompt": "hello"}).encode()


def stall_mid_body(server: Running, path: str) -> tuple[float, bytes]:
    """Send the headers and half the body, then nothing: (seconds until the answer, answer)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(BODY)}\r\n\r\n"
        ).encode()
        sock.sendall(head + BODY[: len(BODY) // 2])
        start = time.monotonic()
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            answer += chunk
        return time.monotonic() - start, answer


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/api/v1/prompt", "native"), (CHAT, "openai"), ("/anthropic/v1/messages", "anthropic")],
)
def test_a_stalled_body_gets_408_and_the_connection_is_closed(serve, path, shape):
    server = serve(read_timeout_secs=1)
    took, answer = stall_mid_body(server, path)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert 0.9 < took < 10, took
    error = json.loads(body)["error"]
    assert "not received within 1 s" in error["message"]
    assert "server.read_timeout_secs" in error["message"]
    if shape == "native":
        assert error["code"] == "request_timeout"
    elif shape == "openai":
        assert error["type"]  # the OpenAI shape: {"error": {"message", "type", ...}}


def test_zero_means_no_read_deadline(serve):
    server = serve(read_timeout_secs=0)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        head = (
            f"POST /api/v1/prompt HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(BODY)}\r\n\r\n"
        ).encode()
        sock.sendall(head + BODY[:3])
        sock.settimeout(1.5)
        with pytest.raises(TimeoutError):  # still waiting for the rest of the body
            sock.recv(65536)
        sock.settimeout(30)
        sock.sendall(BODY[3:])
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_a_streamed_answer_longer_than_the_read_timeout_is_not_cut(serve, monkeypatch):
    monkeypatch.setenv("STUB_DELAY", "0.1")  # 20 deltas: about 2 s, twice the read timeout
    server = serve(read_timeout_secs=1)
    body = {"model": "stub/slow", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    start = time.monotonic()
    with server.client() as c, c.stream("POST", CHAT, json=body) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.status_code == 200
    assert time.monotonic() - start > 1.5
    assert lines[-1] == "data: [DONE]"
    deltas = [line for line in lines if '"content":"w' in line]
    assert len(deltas) == 20
