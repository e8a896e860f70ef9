"""Fixtures for ``clinvk --server``: real ``clinvk serve`` processes and clients pointed at them.

* ``serve(argv, env, cwd)`` starts a server process (its URL comes from a ready file) and stops it
  with SIGTERM after the test, checking it exits 0.
* ``stub_server`` is a server whose only backends are the server package's STUB ones (a Python
  script standing in for an agent CLI, see ``clinvoker-server/tests/server_stub.py``): fast and
  deterministic. Every stub it starts records its pid in ``stub_server.pid_dir``. It needs the
  API key ``stub_server.key``.
* ``remote_env(server, ...)`` is the environment of a ``clinvk`` that talks to ``server``
  (``CLINVK_SERVER``, ``CLINVK_API_KEY``, its own ``CLINVK_HOME``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.clis import clinvk_executable, start_with_ready_file

ROOT = Path(__file__).resolve().parents[2]
STUB_SERVE = ROOT / "clinvoker-server" / "tests" / "server_stub_serve.py"
KEY = "sk-remote-test-key-0123456789"


class ServerProcess:
    """A running server: ``url``, the API ``key`` it accepts, and the process."""

    def __init__(self, proc: subprocess.Popen[str], url: str, key: str, pid_dir: Path) -> None:
        self.proc = proc
        self.url = url
        self.key = key
        self.pid_dir = pid_dir

    def stub_pids(self) -> list[int]:
        """Pids of every stub CLI this server started."""
        return [int(p.name) for p in self.pid_dir.iterdir()] if self.pid_dir.exists() else []


Serve = Callable[..., ServerProcess]


def wait_until(check: Callable[[], object], timeout: float = 15.0, what: str = "it") -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(argv, env, cwd)``: start a server process writing its URL to a ready file."""
    started: list[ServerProcess] = []

    def start(argv: list[str], env: dict[str, str], cwd: Path) -> ServerProcess:
        """``argv`` ends with the option that takes the ready file (or takes it as argument)."""
        ready = tmp_path / f"ready-{len(started)}"
        env = {**env, "CLINVK_API_KEYS": KEY}
        env.pop("CLINVK_SERVER", None)
        proc, url = start_with_ready_file(argv, ready, env=env, cwd=cwd)
        server = ServerProcess(proc, url, KEY, Path(env.get("STUB_PID_DIR", tmp_path / "none")))
        started.append(server)
        return server

    yield start
    for server in started:
        server.proc.send_signal(signal.SIGTERM)
        try:
            _, err = server.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            raise
        assert server.proc.returncode == 0, err


@pytest.fixture
def stub_server(serve: Serve, tmp_path: Path) -> ServerProcess:
    """A server with only the stub backends (``stub`` is the default, ``stub2`` another)."""
    pid_dir = tmp_path / "stub-pids"
    pid_dir.mkdir()
    home = tmp_path / "server-home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CLINVK_HOME": str(home / "clinvk"),
        "STUB_PID_DIR": str(pid_dir),
        "STUB_DELAY": "0.1",
        "CLINVK_SERVER__IDLE_TIMEOUT_SECS": "1",
    }
    return serve([sys.executable, str(STUB_SERVE)], env, home)


@pytest.fixture
def remote_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """``remote_env(server, base=None, key=...)``: a clinvk environment using ``server``."""

    def make(
        server: ServerProcess, base: dict[str, str] | None = None, *, key: str | None = None
    ) -> dict[str, str]:
        home = tmp_path / "client-home"
        home.mkdir(exist_ok=True)
        env = dict(base) if base is not None else {"PATH": os.environ.get("PATH", "")}
        env.update(
            HOME=env.get("HOME", str(home)),
            LANG="C.UTF-8",
            NO_PROXY="127.0.0.1,localhost",
            CLINVK_HOME=str(home / "clinvk"),
            CLINVK_SERVER=server.url,
            CLINVK_API_KEY=server.key if key is None else key,
        )
        return env

    return make


def start_clinvk(
    args: list[str], env: dict[str, str], cwd: Path, *, text: bool = False
) -> subprocess.Popen[Any]:
    """``clinvk ARGS`` in the background, its output piped (to read as it comes)."""
    return subprocess.Popen(
        [str(clinvk_executable()), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=text,
    )


def assert_streams(env: dict[str, str], cwd: Path) -> None:
    """``-o text`` shows the slow stub's words as they come, not all at the end."""
    proc = start_clinvk(["-o", "text", "-m", "slow", "x"], env, cwd)
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 100)  # the stub writes 20 words, 0.1 s apart
    first_at = time.monotonic()
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - first_at > 1.0
    assert first.startswith(b"w0 ")
    assert (first + rest).decode() == "".join(f"w{i} " for i in range(20)) + "\n"
