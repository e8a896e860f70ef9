"""The HTTP side of the fake model API: the shared request log and the request handler.

:class:`RequestLog` is the state every handler thread shares (the log, the ``<code>x<N>``
counters, the default mode). :class:`FakeHandler` routes a request to its provider's wire format
(:mod:`fake_anthropic`, :mod:`fake_openai`, :mod:`fake_gemini`), decides the answer from the
request's mode (:mod:`fake_replies`) and records a :class:`~fake_requests.LoggedRequest`.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .fake_anthropic import AnthropicMessages, anthropic_models
from .fake_gemini import GeminiGenerate, gemini_count_tokens
from .fake_openai import OpenAIChat, OpenAIResponses, openai_models
from .fake_replies import (
    INPUT_TOKENS,
    RETRY_AFTER_STATUSES,
    Mode,
    Reply,
    Wire,
    parse_mode,
    schema_instance,
)
from .fake_requests import LOGGED_HEADERS, LoggedRequest, Summary, redact, summarize

__all__ = ["FakeHTTPServer", "FakeHandler", "RequestLog"]

_GEMINI_PATH = re.compile(r"^/v1[a-z0-9]*/models/([^/:]+):(\w+)$")
_PREFIX = re.compile(r"^/__(mode|tag)/([^/]+)(/.*)?$")
_ANTHROPIC = AnthropicMessages()
_RESPONSES = OpenAIResponses()
_CHAT = OpenAIChat()
_GEMINI = GeminiGenerate()


class RequestLog:
    """Thread-safe record of the requests received, plus the mode state they share."""

    def __init__(self, default_mode: str = "ok", log_file: Path | None = None) -> None:
        parse_mode(default_mode)
        self.default_mode = default_mode
        self.stopping = threading.Event()
        """Set when the server stops: requests waiting in ``slow`` mode give up."""
        self._log_file = log_file
        self._cond = threading.Condition()
        self._entries: list[LoggedRequest] = []
        self._failures: dict[tuple[str | None, str], int] = {}

    def set_mode(self, mode: str) -> None:
        """Mode of requests that carry no ``/__mode/`` prefix (:class:`ValueError` if unknown)."""
        parse_mode(mode)
        with self._cond:
            self.default_mode = mode

    def record(self, entry: LoggedRequest, status: int | None = None) -> None:
        """Log ``entry`` on arrival (numbering it), or set its ``status`` once answered.

        Model calls are logged as they arrive (``status`` 0 until answered), so a test can wait
        for a request that the fake is still holding back (``slow`` mode).
        """
        with self._cond:
            if status is not None:
                entry.status = status
            if not entry.seq:
                entry.seq = len(self._entries) + 1
                self._entries.append(entry)
            self._cond.notify_all()
        if self._log_file is not None and entry.status:
            with self._log_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry.to_dict()) + "\n")

    def log(self, *, tag: str | None = None) -> list[LoggedRequest]:
        """The requests so far, oldest first (only those carrying ``tag`` when given)."""
        with self._cond:
            return [r for r in self._entries if tag is None or r.tag == tag]

    def reset(self, *, tag: str | None = None) -> None:
        """Forget requests and ``<code>x<N>`` counters (only ``tag``'s when given)."""
        with self._cond:
            self._entries = [r for r in self._entries if tag is not None and r.tag != tag]
            self._failures = {
                k: v for k, v in self._failures.items() if tag is not None and k[0] != tag
            }

    def wait_for(
        self, predicate: Callable[[list[LoggedRequest]], bool], *, timeout: float = 10.0
    ) -> list[LoggedRequest]:
        """Block until ``predicate(log)`` holds, or raise :class:`TimeoutError`; returns the log."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self._entries)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"fake model API: condition not met within {timeout} s")
                self._cond.wait(remaining)
            return list(self._entries)

    def should_fail(self, mode: Mode, tag: str | None) -> bool:
        """Whether this model call fails with ``mode.error_status`` (counts ``<code>x<N>``)."""
        if mode.error_status is None:
            return False
        if mode.fail_first is None:
            return True
        with self._cond:
            used = self._failures.get((tag, mode.raw), 0)
            self._failures[(tag, mode.raw)] = used + 1
        return used < mode.fail_first


class FakeHTTPServer(ThreadingHTTPServer):
    """The listening socket; one thread per connection, sharing one :class:`RequestLog`."""

    daemon_threads = True
    state: RequestLog


class FakeHandler(BaseHTTPRequestHandler):
    """Routes one request to a provider wire format, answers it per its mode, logs it."""

    server: FakeHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""

    # -- plumbing -----------------------------------------------------------------------------

    def _split(self) -> tuple[str, dict[str, str], str | None, str | None]:
        parts = urlsplit(self.path)
        path, mode, tag = parts.path, None, None
        while m := _PREFIX.match(path):
            if m[1] == "mode":
                mode = m[2]
            else:
                tag = m[2]
            path = m[3] or "/"
        return path, dict(parse_qsl(parts.query)), mode, tag

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.headers.get("content-encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        return data

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)
        self.close_connection = True

    def _entry(self, path: str, query: dict[str, str], mode: str, tag: str | None) -> LoggedRequest:
        headers = {
            name: redact(name, self.headers[name])
            for name in LOGGED_HEADERS
            if name in self.headers
        }
        return LoggedRequest(
            seq=0, time=time.time(), method=self.command, path=path, query=query,
            mode=mode, tag=tag, provider="unknown", endpoint="unknown", headers=headers,
        )  # fmt: skip

    # -- verbs --------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        path, query, mode, tag = self._split()
        entry = self._entry(path, query, mode or "ok", tag)
        entry.provider = entry.endpoint = "probe"
        self.server.state.record(entry, 200)
        self._send(200, b"")

    def do_GET(self) -> None:
        path, query, mode, tag = self._split()
        if path.startswith("/__admin/"):
            return self._admin(path, query, b"")
        entry = self._entry(path, query, mode or "ok", tag)
        if path == "/v1/models":
            anthropic = "anthropic-version" in self.headers
            entry.provider, entry.endpoint = ("anthropic" if anthropic else "openai"), "models"
            self._answer(entry, 200, anthropic_models() if anthropic else openai_models())
        else:
            self._not_found(entry)

    def do_POST(self) -> None:
        path, query, mode, tag = self._split()
        raw = self._body()
        if path.startswith("/__admin/"):
            return self._admin(path, query, raw)
        entry = self._entry(path, query, mode or self.server.state.default_mode, tag)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        entry.body = body
        gemini = _GEMINI_PATH.match(path)
        if path == "/v1/messages":
            self._model_call(entry, _ANTHROPIC, "messages", body)
        elif path == "/v1/responses":
            self._model_call(entry, _RESPONSES, "responses", body)
        elif path == "/v1/chat/completions":
            self._model_call(entry, _CHAT, "chat.completions", body)
        elif path == "/v1/messages/count_tokens":
            entry.provider, entry.endpoint = "anthropic", "count_tokens"
            self._fill(entry, summarize("count_tokens", body))
            self._answer(entry, 200, {"input_tokens": INPUT_TOKENS})
        elif gemini and gemini[2] == "countTokens":
            entry.provider, entry.endpoint = "gemini", "countTokens"
            self._fill(entry, summarize("countTokens", body, model=gemini[1]))
            self._answer(entry, 200, gemini_count_tokens())
        elif gemini and gemini[2] in {"generateContent", "streamGenerateContent"}:
            self._model_call(entry, _GEMINI, gemini[2], body, model=gemini[1])
        else:
            self._not_found(entry)

    # -- answers ------------------------------------------------------------------------------

    def _answer(self, entry: LoggedRequest, status: int, body: Any, **headers: str) -> None:
        self.server.state.record(entry, status)
        self._send(status, body, {k.replace("_", "-"): v for k, v in headers.items()})

    def _not_found(self, entry: LoggedRequest) -> None:
        message = f"fake model API: no route for {self.command} {entry.path}"
        self._answer(entry, 404, {"error": {"message": message, "type": "not_found_error"}})

    def _fill(self, entry: LoggedRequest, summary: Summary) -> None:
        entry.model, entry.stream, entry.system = summary.model, summary.stream, summary.system
        entry.roles, entry.texts, entry.tools = summary.roles, summary.texts, summary.tools
        entry.n_messages, entry.last_user_text = len(summary.roles), summary.last_user_text

    def _admin(self, path: str, query: dict[str, str], raw: bytes) -> None:
        state = self.server.state
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, {"error": "the admin request body must be JSON"})
        if path == "/__admin/log" and self.command == "GET":
            with_body = query.get("bodies") in {"1", "true"}
            entries = [r.to_dict(with_body=with_body) for r in state.log(tag=query.get("tag"))]
            return self._send(200, {"requests": entries})
        if path == "/__admin/reset" and self.command == "POST":
            state.reset(tag=data.get("tag"))
            return self._send(200, {"ok": True})
        if path == "/__admin/mode" and self.command == "POST":
            try:
                state.set_mode(str(data.get("mode", "ok")))
            except ValueError as exc:
                return self._send(400, {"error": str(exc)})
            return self._send(200, {"mode": state.default_mode})
        if path == "/__admin/health":
            return self._send(200, {"ok": True, "port": self.server.server_address[1]})
        self._send(404, {"error": f"no admin route {self.command} {path}"})

    def _model_call(
        self, entry: LoggedRequest, wire: Wire, endpoint: str, body: Any, model: str | None = None
    ) -> None:
        state = self.server.state
        entry.provider, entry.endpoint = wire.provider, endpoint
        summary = summarize(endpoint, body, model=model)
        self._fill(entry, summary)
        state.record(entry)
        if not isinstance(body, dict):
            return self._answer(
                entry, 400, wire.error_body(400, "fake model API: body is not a JSON object")
            )
        try:
            mode = parse_mode(entry.mode)
        except ValueError as exc:
            return self._answer(entry, 400, wire.error_body(400, str(exc)))
        if mode.delay and state.stopping.wait(mode.delay):
            self.close_connection = True  # server stopping: drop the request
            return
        if state.should_fail(mode, entry.tag):
            status = mode.error_status or 500
            extra = {"retry_after": "1"} if status in RETRY_AFTER_STATUSES else {}
            return self._answer(entry, status, wire.error_body(status), **extra)
        model_name = summary.model or ""
        if "nonexistent" in model_name:
            return self._answer(entry, *wire.model_not_found(model_name))
        reply = self._reply(wire, mode, summary)
        if endpoint == "streamGenerateContent" and entry.query.get("alt") != "sse":
            return self._answer(entry, 200, [wire.complete(reply, model_name, body)])
        if not summary.stream and endpoint != "streamGenerateContent":
            return self._complete(entry, mode, wire.complete(reply, model_name, body))
        state.record(entry, 200)
        self._stream(mode, wire, wire.stream(reply, model_name, body))

    def _reply(self, wire: Wire, mode: Mode, summary: Summary) -> Reply:
        if summary.json_schema is not None:
            return Reply(text=json.dumps(schema_instance(summary.json_schema)))
        if mode.behaviour in {"tool", "toolw"} and not summary.ends_with_tool_result:
            return Reply(tool_call=wire.tool_call(summary, mode.behaviour == "toolw"))
        if mode.behaviour == "echo":
            return Reply(text=f"Echo: {summary.last_user_text}")
        return Reply()

    def _complete(self, entry: LoggedRequest, mode: Mode, body: dict[str, Any]) -> None:
        if mode.delivery == "empty":
            return self._answer(entry, 200, b"")
        if mode.delivery == "malformed":
            return self._answer(entry, 200, b"{this is not json")
        self._answer(entry, 200, body)

    def _stream(self, mode: Mode, wire: Wire, frames: list[tuple[bytes, bool]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if mode.delivery == "empty":
            return
        if mode.delivery == "malformed":
            frames = [(wire.malformed(), False)]
        deltas = 0
        try:
            for frame, is_delta in frames:
                if mode.delivery == "truncated" and deltas == 2:
                    break
                self.wfile.write(frame)
                self.wfile.flush()
                deltas += is_delta
        except (BrokenPipeError, ConnectionResetError):
            pass
