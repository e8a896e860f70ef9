"""A real ``clinvk serve`` process (stub backends) for the multi-user tests.

:class:`ServerProcess` runs ``server_stub_serve.py`` with ``CLINVK_CONFIG`` pointing at a YAML
file the test writes (and may rewrite: the server reloads it), collects its stderr lines in a
thread so tests can wait for a log line, and stops it with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).parent


def write_config(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``data`` as YAML (as an editor saving a file would)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data), encoding="utf-8")
    tmp.replace(path)


def write_script(path: Path, body: str) -> Path:
    """An executable Python script (``#!`` this interpreter) with ``body``."""
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(0o755)
    return path


class ServerProcess:
    """The server as a subprocess; ``url`` once it listens."""

    def __init__(self, tmp_path: Path, config: dict[str, Any] | None = None, **env: str) -> None:
        self.config_file = tmp_path / "config.yaml"
        write_config(self.config_file, config or {})
        ready = tmp_path / "ready"
        (tmp_path / "pids").mkdir(exist_ok=True)
        full_env = {
            **os.environ,
            "CLINVK_HOME": str(tmp_path / "home"),
            "CLINVK_CONFIG": str(self.config_file),
            "STUB_PID_DIR": str(tmp_path / "pids"),
            **env,
        }
        full_env.pop("CLINVK_API_KEYS", None)
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server_stub_serve.py"), str(ready)],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 20
        while not (ready.exists() and ready.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait(5)
                self._reader.join(5)
                if self.proc.stderr is not None:
                    self.proc.stderr.close()
                raise AssertionError(f"server did not start: {self.log}")
            time.sleep(0.02)
        self.url = ready.read_text().strip()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        with self._lock:
            return "\n".join(self.lines)

    def wait_for_log(self, text: str, timeout: float = 10.0, *, after: int = 0) -> str:
        """The first stderr line (from line ``after`` on) containing ``text``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [line for line in self.lines[after:] if text in line]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no log line with {text!r} within {timeout}s; log:\n{self.log}")

    def mark(self) -> int:
        """The number of log lines so far (for ``wait_for_log(after=...)``)."""
        with self._lock:
            return len(self.lines)

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 30.0), **kw)

    def hangup(self) -> None:
        """Send SIGHUP (reload)."""
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> int:
        """SIGTERM; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return self.proc.returncode
