"""A fake model provider (Anthropic, OpenAI and Gemini APIs) on 127.0.0.1, for the real CLIs.

In-process::

    with FakeModelAPI() as api:
        env["ANTHROPIC_BASE_URL"] = api.base_url("ok")       # or "401", "tool", "500x2", ...
        ...
        assert api.model_calls()[-1].roles == ["user"]

As a program (stdlib only)::

    python tests/support/fake_model_api.py --port 0 --port-file /tmp/port [--mode ok]

Routes: ``POST /v1/messages`` (+ ``/count_tokens``), ``POST /v1/responses``,
``POST /v1/chat/completions``, ``GET /v1/models``, ``POST /v1beta/models/{m}:{generateContent,
streamGenerateContent,countTokens}``, ``HEAD /`` (Claude's probe). Control plane:
``GET /__admin/log[?tag=T&bodies=1]``, ``POST /__admin/reset`` (``{"tag": T}`` optional),
``POST /__admin/mode`` (``{"mode": M}``: the mode of requests without a ``/__mode/`` prefix).

A base URL may carry ``/__mode/<mode>/`` and ``/__tag/<tag>/`` prefixes; the tag lets parallel
tests share one server and still read only their own requests. Modes are documented in
:mod:`fake_replies`. Only model calls obey the mode; probes, listings and token counts always succeed.
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # run as a file: rerun as part of the package
    import runpy
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    runpy.run_module("support.fake_model_api", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import gzip
import json
import re
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .fake_anthropic import AnthropicMessages, anthropic_models
from .fake_gemini import GeminiGenerate, gemini_count_tokens
from .fake_openai import OpenAIChat, OpenAIResponses, openai_models
from .fake_replies import RETRY_AFTER_STATUSES, Mode, Reply, Wire, parse_mode, schema_instance
from .fake_requests import LOGGED_HEADERS, LoggedRequest, Summary, redact, summarize
from .netns import ensure_loopback

__all__ = ["FakeModelAPI", "main"]

_GEMINI_PATH = re.compile(r"^/v1[a-z0-9]*/models/([^/:]+):(\w+)$")
_ANTHROPIC = AnthropicMessages()
_RESPONSES = OpenAIResponses()
_CHAT = OpenAIChat()
_GEMINI = GeminiGenerate()


class FakeModelAPI:
    """The fake provider server: start it, point CLIs at :meth:`base_url`, read :meth:`log`."""

    def __init__(self, *, mode: str = "ok", log_file: Path | None = None) -> None:
        parse_mode(mode)
        self._default_mode = mode
        self._log_file = log_file
        self._cond = threading.Condition()
        self._log: list[LoggedRequest] = []
        self._failures: dict[tuple[str | None, str], int] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeModelAPI:
        """Listen on ``127.0.0.1:port`` (0 = any free port) in a background thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-model-api", daemon=True
        )
        self._thread.start()
        ensure_loopback(self.port)
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting in ``slow`` mode are dropped."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeModelAPI:
        return self if self._server is not None else self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._server is None:
            raise RuntimeError("the fake model API is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no mode prefix)."""
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, mode: str = "ok", *, tag: str | None = None) -> str:
        """A base URL whose requests get ``mode`` (append ``/v1`` for Codex's provider config)."""
        parse_mode(mode)
        url = f"{self.url}/__mode/{mode}"
        return f"{url}/__tag/{tag}" if tag else url

    # -- control ------------------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        """Mode of requests that carry no ``/__mode/`` prefix."""
        parse_mode(mode)
        with self._cond:
            self._default_mode = mode

    def log(self, *, tag: str | None = None) -> list[LoggedRequest]:
        """Every request received so far (only those carrying ``tag`` when given), oldest first."""
        with self._cond:
            return [r for r in self._log if tag is None or r.tag == tag]

    def model_calls(self, *, tag: str | None = None) -> list[LoggedRequest]:
        """Only the requests that asked a model for an answer."""
        return [r for r in self.log(tag=tag) if r.is_model_call]

    def reset(self, *, tag: str | None = None) -> None:
        """Forget the log and the ``<code>x<N>`` counters (of ``tag`` only, when given)."""
        with self._cond:
            self._log = [r for r in self._log if tag is not None and r.tag != tag]
            self._failures = {
                k: v for k, v in self._failures.items() if tag is not None and k[0] != tag
            }

    def wait_for(
        self, predicate: Callable[[list[LoggedRequest]], bool], *, timeout: float = 10.0
    ) -> list[LoggedRequest]:
        """Block until ``predicate(log)`` holds (or raise :class:`TimeoutError`); returns the log."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self._log)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"fake model API: condition not met within {timeout} s")
                self._cond.wait(remaining)
            return list(self._log)

    # -- used by the handler ------------------------------------------------------------------

    def _record(self, entry: LoggedRequest) -> None:
        with self._cond:
            entry.seq = len(self._log) + 1
            self._log.append(entry)
            self._cond.notify_all()
        if self._log_file is not None:
            with self._log_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry.to_dict()) + "\n")

    def _should_fail(self, mode: Mode, tag: str | None) -> bool:
        if mode.error_status is None:
            return False
        if mode.fail_first is None:
            return True
        with self._cond:
            used = self._failures.get((tag, mode.raw), 0)
            self._failures[(tag, mode.raw)] = used + 1
        return used < mode.fail_first


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeModelAPI


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""

    # -- plumbing -----------------------------------------------------------------------------

    def _split(self) -> tuple[str, dict[str, str], str | None, str | None]:
        parts = urlsplit(self.path)
        path, mode, tag = parts.path, None, None
        while m := re.match(r"^/__(mode|tag)/([^/]+)(/.*)?$", path):
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
        entry.status = 200
        self.server.api._record(entry)
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
        entry = self._entry(path, query, mode or self.server.api._default_mode, tag)
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
            self._answer(entry, 200, {"input_tokens": 11})
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
        entry.status = status
        self.server.api._record(entry)
        self._send(status, body, {k.replace("_", "-"): v for k, v in headers.items()})

    def _not_found(self, entry: LoggedRequest) -> None:
        message = f"fake model API: no route for {self.command} {entry.path}"
        self._answer(entry, 404, {"error": {"message": message, "type": "not_found_error"}})

    def _fill(self, entry: LoggedRequest, summary: Summary) -> None:
        entry.model, entry.stream, entry.system = summary.model, summary.stream, summary.system
        entry.roles, entry.texts, entry.tools = summary.roles, summary.texts, summary.tools
        entry.n_messages, entry.last_user_text = len(summary.roles), summary.last_user_text

    def _admin(self, path: str, query: dict[str, str], raw: bytes) -> None:
        api = self.server.api
        data = json.loads(raw or b"{}") if self.command == "POST" else {}
        if path == "/__admin/log" and self.command == "GET":
            with_body = query.get("bodies") in {"1", "true"}
            entries = [r.to_dict(with_body=with_body) for r in api.log(tag=query.get("tag"))]
            return self._send(200, {"requests": entries})
        if path == "/__admin/reset" and self.command == "POST":
            api.reset(tag=data.get("tag"))
            return self._send(200, {"ok": True})
        if path == "/__admin/mode" and self.command == "POST":
            try:
                api.set_mode(str(data.get("mode", "ok")))
            except ValueError as exc:
                return self._send(400, {"error": str(exc)})
            return self._send(200, {"mode": api._default_mode})
        if path == "/__admin/health":
            return self._send(200, {"ok": True, "port": api.port})
        self._send(404, {"error": f"no admin route {self.command} {path}"})

    def _model_call(
        self, entry: LoggedRequest, wire: Wire, endpoint: str, body: Any, model: str | None = None
    ) -> None:
        api = self.server.api
        entry.provider, entry.endpoint = wire.provider, endpoint
        summary = summarize(endpoint, body, model=model)
        self._fill(entry, summary)
        if not isinstance(body, dict):
            return self._answer(
                entry, 400, wire.error_body(400, "fake model API: body is not a JSON object")
            )
        try:
            mode = parse_mode(entry.mode)
        except ValueError as exc:
            return self._answer(entry, 400, wire.error_body(400, str(exc)))
        if mode.delay and api._stopping.wait(mode.delay):
            return  # server stopping: drop the request
        if api._should_fail(mode, entry.tag):
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
        entry.status = 200
        api._record(entry)
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


def main(argv: list[str] | None = None) -> int:
    """Run the fake model API until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")
    parser.add_argument("--mode", default="ok", help="mode of requests without /__mode/ prefix")
    parser.add_argument("--log-file", type=Path, help="append one JSON line per request")
    args = parser.parse_args(argv)
    try:
        api = FakeModelAPI(mode=args.mode, log_file=args.log_file).start(args.port)
    except (ValueError, OSError, RuntimeError) as exc:
        parser.exit(2, f"fake_model_api: {exc}\n")
    if args.port_file:
        tmp = args.port_file.with_name(args.port_file.name + ".tmp")
        tmp.write_text(str(api.port))
        tmp.replace(args.port_file)
    print(f"fake model API listening on {api.url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    api.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
