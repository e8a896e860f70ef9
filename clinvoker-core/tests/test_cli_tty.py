"""What ``clinvk`` does on a terminal: help without a prompt, the ``resume -i`` picker."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clinvoker.config import load_config
from clinvoker.sessions import open_store
from support.core_fakes import install_fake_cli

TESTS = Path(__file__).parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINVK_")}
    env.update(CLINVK_HOME=str(tmp_path / "home"), COLUMNS="100", TERM="dumb")
    return env


class Terminal:
    """``clinvk`` with stdin/stdout/stderr on a pseudo-terminal."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clinvoker.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, text: str | None, timeout: float = 30.0) -> str:
        """Read until ``text`` appears (``None``: until the program closes the terminal)."""
        deadline = time.monotonic() + timeout
        while text is None or text.encode() not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{text!r} not seen; got {self.seen.decode(errors='replace')!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    if text is None:
                        break
                    raise EOFError(f"{text!r} not seen; got {self.seen.decode(errors='replace')!r}")
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def write(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self) -> int:
        self.read_until(None)
        code = self.proc.wait(timeout=30)
        os.close(self.master)
        return code


def test_no_prompt_on_a_terminal_shows_help(env: dict[str, str]) -> None:
    term = Terminal([], env)
    out = term.read_until("Commands:")
    assert "Usage: clinvk" in out
    assert term.wait() == 0


def test_resume_picker_lists_sessions_and_quits_on_q(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_HOME", env["CLINVK_HOME"])
    store = open_store(load_config())
    made = store.create(backend="claude", initial_prompt="refactor the parser")
    term = Terminal(["resume", "-i"], env)
    out = term.read_until("Enter session number")
    assert "Available sessions:" in out
    assert made.id[:8] in out
    assert "refactor the parser" in out
    term.write("q\n")
    assert term.wait() == 130


def test_resume_picker_rejects_a_bad_number(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_HOME", env["CLINVK_HOME"])
    open_store(load_config()).create(backend="codex", initial_prompt="x")
    term = Terminal(["resume", "-i"], env)
    term.read_until("Enter session number")
    term.write("7\n")
    assert "invalid selection '7'" in term.read_until("enter 1 to 1")
    assert term.wait() == 2


LAUNCHER = (
    "import sys; sys.path.insert(0, {tests!r}); "
    "from support.core_fakes import fake_host; from clinvoker.plugins import reset_host; "
    "reset_host(fake_host()); from clinvoker.cli.main import main; main(sys.argv[1:])"
)


def test_parallel_shows_progress_on_the_terminal_and_keeps_stdout_clean(
    env: dict[str, str], tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    install_fake_cli(bin_dir)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "tasks:\n  - {backend: fake, prompt: one, name: first}\n"
        "  - {backend: fake, prompt: two, extra: [--exit-code, '5']}\n"
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER.format(tests=str(TESTS)), "parallel", "-f", str(tasks)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        text=True,
    )
    os.close(slave)
    out, _ = proc.communicate(timeout=60)
    terminal = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    screen = terminal.decode(errors="replace")
    assert proc.returncode == 1
    assert "\x1b[2K" in screen
    assert "[1] completed" in screen
    assert "[2] failed" in screen
    assert "first" in screen
    assert "\x1b" not in out
    assert "[1] echo: one" in out


def test_resume_picker_needs_a_terminal(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clinvoker.cli", "resume", "-i"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "needs a terminal" in proc.stderr
