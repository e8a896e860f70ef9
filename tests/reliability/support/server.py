"""``clinvk serve`` as a real process of a :class:`~reliability.support.world.World`.

::

    server = ServerProcess(world, config=CONFIG).start()
    with server.client() as c:
        c.get("/health")
    rc = server.stop()                   # SIGTERM, then wait for a graceful exit
    assert "sk-..." not in server.output()

Its stdout and stderr go to files in the world (never to a pipe nobody reads), so a long access
log cannot block it and a test can grep everything it printed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
from support.clis import clinvk_executable

from reliability.support.procs import alive, wait_until
from reliability.support.world import World

__all__ = ["API_KEY", "ServerProcess"]

API_KEY = "sk-reliability-7f3c9a1e5b2d4c68a0e1f2d3c4b5a697"
"""The key the suite's servers accept (a realistic, greppable secret)."""


class ServerProcess:
    """One ``clinvk serve --port 0`` in its own process group."""

    def __init__(self, world: World, *, config: str, env: dict[str, str] | None = None) -> None:
        self.world = world
        self.config = config
        self.extra_env = dict(env or {})
        self.ready_file = world.root / "server.ready"
        self.stdout_path = world.root / "server.stdout"
        self.stderr_path = world.root / "server.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None, "start() the server first"
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Launch it and wait until it listens."""
        self.world.write_config(self.config)
        self.ready_file.unlink(missing_ok=True)
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    str(clinvk_executable()),
                    "serve",
                    "--port",
                    "0",
                    "--ready-file",
                    str(self.ready_file),
                ],
                env={**self.world.env, **self.extra_env},
                cwd=self.world.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        try:
            wait_until(
                lambda: self._ready() or self.proc is None or self.proc.poll() is not None,
                timeout=timeout,
                what="clinvk serve to listen",
            )
        except AssertionError:
            self.kill()
            raise
        if not self._ready():
            raise AssertionError(f"clinvk serve exited at start-up:\n{self.output()}")
        self.url = self.ready_file.read_text(encoding="utf-8").strip()
        return self

    def _ready(self) -> bool:
        return (
            self.ready_file.exists() and self.ready_file.read_text(encoding="utf-8").strip() != ""
        )

    def client(
        self, *, key: str | None = API_KEY, timeout: float = 60.0, **kw: Any
    ) -> httpx.Client:
        """An HTTP client for this server, presenting ``key`` (``None``: no key)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, timeout=timeout, headers=headers, **kw)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the process to exit; returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"clinvk serve did not exit within {timeout}s of {sig!r}"
            ) from None

    def kill(self) -> None:
        """Kill the server's process group and every CLI group it started (cleanup after a
        failed test: the CLIs run in their own sessions and would outlive a killed server)."""
        if self.proc is None:
            return
        groups = [self.proc.pid, *(call["pgid"] for call in self.world.calls())]
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and alive(self.proc.pid)

    def output(self) -> str:
        """Everything it printed so far (stdout, then stderr)."""
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            if path.exists():
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Wait until ``text`` appears in what it printed."""
        wait_until(lambda: text in self.output(), timeout=timeout, what=f"{text!r} in the log")

    @staticmethod
    def files_under(root: Path) -> list[Path]:
        """Every regular file below ``root`` (for grepping what a run left behind)."""
        return [p for p in root.rglob("*") if p.is_file()]

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
