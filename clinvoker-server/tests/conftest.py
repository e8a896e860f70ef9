"""Fixtures: a real Hypercorn server on 127.0.0.1:0 (in a thread) backed by the STUB backend.

``serve(**server_settings)`` starts a server with ``Config(default_backend="stub",
server=ServerConfig(**server_settings))`` and a session store in a temporary directory, and
returns a :class:`Running` with its ``url``. Every stub CLI started records its pid in
``running.pid_dir`` so tests can check that processes are gone.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clinvoker.config import Config, ServerConfig
from clinvoker.session_files import FileSessionStore

sys.path.insert(0, str(Path(__file__).parent))

from clinvoker_server.app import create_app
from clinvoker_server.serve import bind_socket
from clinvoker_server.serve import serve as serve_app
from server_stub import stub_host


class Running:
    """A server running in a background thread."""

    def __init__(
        self, config: Config, store: FileSessionStore, pid_dir: Path, **app_kw: Any
    ) -> None:
        self.config = config
        self.store = store
        self.pid_dir = pid_dir
        self.app = create_app(config, host=stub_host(), store=store, **app_kw)
        self.sock = bind_socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test server did not start within 10 s")
        if self.error is not None:
            raise RuntimeError(f"the test server failed: {self.error!r}") from self.error

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve_app(
                self.app,
                self.config,
                sock=self.sock,
                shutdown_trigger=self._stop.wait,
                on_ready=lambda _url: self._ready.set(),
            )

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 30.0), **kw)

    def pids(self) -> list[int]:
        return [int(p.name) for p in self.pid_dir.iterdir()]


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``check`` until it is true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Running]]:
    """``serve(**server_settings)`` → a :class:`Running` server (stopped after the test)."""
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    monkeypatch.setenv("STUB_PID_DIR", str(pid_dir))
    monkeypatch.setenv("CLINVK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLINVK_API_KEYS", raising=False)
    started: list[Running] = []

    def start(
        *,
        config: dict[str, Any] | None = None,
        app_kw: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Running:
        settings.setdefault("keepalive_secs", 15)
        settings.setdefault("shutdown_grace_secs", 5)
        cfg = Config(default_backend="stub", server=ServerConfig(**settings), **(config or {}))
        store = FileSessionStore(tmp_path / "sessions")
        running = Running(cfg, store, pid_dir, **(app_kw or {}))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def server(serve: Callable[..., Running]) -> Running:
    """A server with default settings (no keys, no limits)."""
    return serve()


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    path = tmp_path / "work"
    path.mkdir()
    return os.path.realpath(path)
