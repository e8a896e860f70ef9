"""Helper processes that run while a suite measures: the fake model API, the server.

Each is a real process in its own process group that writes the address it bound to a file
once it is listening; :class:`Background` waits for that file (with a deadline) and, on
exit, stops the group (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from benchmarks.context import ROOT
from benchmarks.harness import kill_group

__all__ = ["Background", "fake_model_api"]


class Background:
    """A process started with ``argv`` that reports readiness by writing ``ready_file``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        ready_file: Path,
        env: Mapping[str, str],
        log: Path,
        cwd: Path | None = None,
        start_timeout: float = 30.0,
        complete: Callable[[str], bool] = lambda text: bool(text.strip()),
    ) -> None:
        self.argv = list(argv)
        self.ready_file = ready_file
        self.env = dict(env)
        self.log = log
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.complete = complete
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = ""

    def __enter__(self) -> Background:
        self.ready_file.unlink(missing_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{' '.join(self.argv)} did not start:\n{tail}")
            time.sleep(0.02)
        return self

    def _ready(self) -> bool:
        try:
            text = self.ready_file.read_text()
        except FileNotFoundError:
            return False
        if not self.complete(text):
            return False
        self.ready = text.strip()
        return True

    @property
    def pid(self) -> int:
        """The process id (it leads its own process group)."""
        if self.proc is None:
            raise RuntimeError("not started")
        return self.proc.pid

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        kill_group(self.proc.pid)
        self.proc.wait()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def fake_model_api(scratch: Path) -> Background:
    """The tests' fake model API as its own process; ``.ready`` is its port."""
    scratch.mkdir(parents=True, exist_ok=True)
    script = ROOT / "tests" / "support" / "fake_model_api.py"
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    return Background(
        [sys.executable, str(script), "--port", "0", "--port-file", str(scratch / "port")],
        ready_file=scratch / "port",
        env=env,
        log=scratch / "fake-api.log",
    )
