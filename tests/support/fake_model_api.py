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
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from .fake_http import FakeHandler, FakeHTTPServer, RequestLog
from .fake_replies import parse_mode
from .fake_requests import LoggedRequest
from .netns import ensure_loopback

__all__ = ["FakeModelAPI", "LoggedRequest", "main"]


class FakeModelAPI:
    """The fake provider server: start it, point CLIs at :meth:`base_url`, read :meth:`log`."""

    def __init__(self, *, mode: str = "ok", log_file: Path | None = None) -> None:
        self.requests = RequestLog(mode, log_file)
        """The shared log (also reachable through :meth:`log`, :meth:`reset`, :meth:`wait_for`)."""
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeModelAPI:
        """Listen on ``127.0.0.1:port`` (0 = any free port) in a background thread."""
        if self._server is not None:
            raise RuntimeError("the fake model API is already running")
        self.requests.stopping.clear()
        server = FakeHTTPServer(("127.0.0.1", port), FakeHandler)
        server.state = self.requests
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="fake-model-api", daemon=True
        )
        self._thread.start()
        ensure_loopback(self.port)
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting in ``slow`` mode are dropped."""
        self.requests.stopping.set()
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
        """A base URL whose requests get ``mode`` (Codex's provider config appends ``/v1``).

        ``tag`` marks the requests so :meth:`log` can pick them out of a shared server's traffic.
        """
        parse_mode(mode)
        url = f"{self.url}/__mode/{mode}"
        return f"{url}/__tag/{tag}" if tag else url

    # -- control and inspection ---------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        """Mode of requests that carry no ``/__mode/`` prefix."""
        self.requests.set_mode(mode)

    def log(self, *, tag: str | None = None) -> list[LoggedRequest]:
        """Every request received so far (only those carrying ``tag`` when given), oldest first."""
        return self.requests.log(tag=tag)

    def model_calls(self, *, tag: str | None = None) -> list[LoggedRequest]:
        """Only the requests that asked a model for an answer (no probes, counts, listings)."""
        return [r for r in self.requests.log(tag=tag) if r.is_model_call]

    def reset(self, *, tag: str | None = None) -> None:
        """Forget the log and the ``<code>x<N>`` counters (only ``tag``'s when given)."""
        self.requests.reset(tag=tag)

    def wait_for(
        self, predicate: Callable[[list[LoggedRequest]], bool], *, timeout: float = 10.0
    ) -> list[LoggedRequest]:
        """Block until ``predicate(log)`` holds (else :class:`TimeoutError`); returns the log."""
        return self.requests.wait_for(predicate, timeout=timeout)


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
