"""``clinvk PROMPT`` on the fast path: same behaviour as the click command, CLI started first.

Every test runs ``clinvk`` as a real process over the fake backend CLI. A multi-word prompt with
the common flags takes the fast path (:mod:`clinvoker.cli.fastrun`); the same command with
``--debug`` or ``-v`` (flags the fast path leaves to click, which only add diagnostics on
stderr) takes the click path, so the two can be compared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support.core_fakes import install_fake_cli, pid_alive, read_log

TESTS = Path(__file__).parent

LAUNCHER = textwrap.dedent(
    """
    import subprocess, sys
    sys.path.insert(0, {tests!r})
    from support.core_fakes import fake_host
    from clinvoker.plugins import reset_host
    reset_host(fake_host())
    _init = subprocess.Popen.__init__
    def spy(self, *args, **kwargs):
        loaded = sorted({{"asyncio", "click"}} & set(sys.modules))
        sys.stderr.write("loaded at spawn: %s\\n" % ",".join(loaded))
        _init(self, *args, **kwargs)
    subprocess.Popen.__init__ = spy
    from clinvoker.cli.main import main
    main(sys.argv[1:])
    """
)


class World:
    """A clinvk home, ``fake-cli`` on PATH and its call log; runs ``clinvk`` as a process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.log = root / "calls.jsonl"
        self.work = root / "work"
        self.work.mkdir()
        install_fake_cli(self.bin)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CLINVK_", "FAKE_CLI"))
        }
        self.env.update(
            PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            CLINVK_HOME=str(root / "home"),
            CLINVK_BACKEND="fake",
            FAKE_CLI_LOG=str(self.log),
        )

    def run(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", LAUNCHER.format(tests=str(TESTS)), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            cwd=self.work,
            env={**self.env, **(env or {})},
            timeout=60,
        )

    def start(
        self, *args: str, fake_flags: str, prefix: tuple[str, ...] = ()
    ) -> subprocess.Popen[str]:
        """``clinvk ARGS`` in the background (its own session), the fake CLI given ``fake_flags``."""
        return subprocess.Popen(
            [*prefix, sys.executable, "-c", LAUNCHER.format(tests=str(TESTS)), *args],
            env={**self.env, "CLINVK_BACKENDS__FAKE__EXTRA_FLAGS": fake_flags},
            cwd=self.work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def calls(self) -> list[dict[str, Any]]:
        return read_log(self.log)

    def session_files(self) -> list[dict[str, Any]]:
        folder = self.root / "home" / "sessions"
        files = sorted(folder.glob("*.json")) if folder.exists() else []
        return [json.loads(f.read_text()) for f in files]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Wait until the fake CLI has written ``path`` (clinvk must still be running)."""
    deadline = time.monotonic() + 30
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fake CLI never started"
        time.sleep(0.02)


def fast(proc: subprocess.CompletedProcess[str]) -> bool:
    """Whether the run took the fast path (the CLI started before asyncio and click loaded)."""
    return "loaded at spawn: \n" in proc.stderr


def user_stderr(proc: subprocess.CompletedProcess[str]) -> str:
    return "".join(
        line for line in proc.stderr.splitlines(keepends=True) if "loaded at spawn" not in line
    )


def normalized(fmt: str, stdout: str) -> Any:
    """Output with what differs between any two runs (ids, times) blanked."""
    volatile = {"session_id", "clinvk_session_id", "duration_seconds"}

    def scrub(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: "…" if k in volatile else scrub(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [scrub(v) for v in obj]
        return obj

    if fmt == "text":
        return stdout
    if fmt == "json":
        return scrub(json.loads(stdout))
    return [scrub(json.loads(line)) for line in stdout.splitlines()]


# -- the same results as the click command -----------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "stream-json"])
def test_a_plain_prompt_starts_the_cli_first_and_prints_what_the_click_path_prints(
    world: World, fmt: str
) -> None:
    quick = world.run("-o", fmt, "--new", "say hello")
    assert quick.returncode == 0, quick.stderr
    assert fast(quick), quick.stderr
    slow = world.run("--debug", "-o", fmt, "--new", "say hello")
    assert slow.returncode == 0, slow.stderr
    assert not fast(slow)
    assert normalized(fmt, quick.stdout) == normalized(fmt, slow.stdout)
    assert user_stderr(quick) == ""  # (--debug also explains the run on stderr)
    first, second = world.session_files()
    assert first["initial_prompt"] == second["initial_prompt"] == "say hello"
    assert first["turn_count"] == second["turn_count"] == 1
    assert first["status"] == second["status"] == "completed"


def test_auto_resume_new_continue_and_ephemeral_behave_as_documented(world: World) -> None:
    one = world.run("-o", "json", "first question")
    assert one.returncode == 0, one.stderr
    assert fast(one)
    session = json.loads(one.stdout)["clinvk_session_id"]

    two = world.run("-o", "json", "second question")
    assert fast(two)
    assert f"continuing session {session[:8]} (fake) from " in two.stderr
    assert "use --new to start fresh" in two.stderr
    assert json.loads(two.stdout)["clinvk_session_id"] == session
    backend_id = json.loads(one.stdout)["session_id"]
    assert world.calls()[1]["argv"][world.calls()[1]["argv"].index("--resume") + 1] == backend_id

    three = world.run("-o", "json", "--new", "third question")
    assert fast(three)
    assert "continuing" not in three.stderr
    assert json.loads(three.stdout)["clinvk_session_id"] != session

    four = world.run("-o", "json", "--ephemeral", "fourth question")
    assert fast(four)
    assert json.loads(four.stdout)["clinvk_session_id"] is None
    assert len(world.session_files()) == 2

    five = world.run("-o", "json", "-c", "fifth question")
    assert fast(five)
    newest = json.loads(three.stdout)["clinvk_session_id"]
    assert json.loads(five.stdout)["clinvk_session_id"] == newest
    turns = {s["id"]: s["turn_count"] for s in world.session_files()}
    assert turns == {session: 2, newest: 2}


def test_auto_resume_is_scoped_to_the_backend_and_the_directory(world: World) -> None:
    world.run("-o", "json", "in work")
    other = world.root / "elsewhere"
    other.mkdir()
    there = world.run("-o", "json", "-w", str(other), "in elsewhere")
    assert fast(there)
    assert "continuing" not in there.stderr
    assert world.calls()[-1]["cwd"] == str(other)
    config_off = world.run("-o", "json", "once again", env={"CLINVK_SESSION__AUTO_RESUME": "false"})
    assert fast(config_off)
    assert "continuing" not in config_off.stderr
    assert len(world.session_files()) == 3


def test_the_prompt_can_come_from_stdin(world: World) -> None:
    proc = world.run("-o", "text", stdin="piped question\n")
    assert proc.returncode == 0, proc.stderr
    assert fast(proc)
    assert proc.stdout == "echo: piped question\n"
    empty = world.run("-o", "text", stdin="  \n")
    assert empty.returncode == 2
    assert "no prompt: pass PROMPT as an argument or pipe it on stdin" in empty.stderr
    assert world.calls() == [world.calls()[0]]  # the empty one started nothing


def test_flags_the_fast_path_reads_reach_the_cli(world: World) -> None:
    proc = world.run(
        "--backend=fake", "-m", "best", "-o", "JSON", "--timeout", "30", "--new", "with flags"
    )
    assert proc.returncode == 0, proc.stderr
    assert fast(proc)
    argv = world.calls()[0]["argv"]
    assert argv[argv.index("--model") + 1] == "fake-max"
    assert argv[-2:] == ["--", "with flags"]
    assert json.loads(proc.stdout)["model"] == "fake-max"


# -- errors: the same message and exit code either way -----------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["-b", "nope", "say hi"], {}, 2, "Error: unknown backend 'nope' (installed: fake, fake2)"),
        (["say hi"], {"PATH": "/nonexistent"}, 4, "fake-cli"),
        (["-w", "{work}", "say hi"], {"CLINVK_OUTPUT__FORMAT": "yaml"}, 3, "output.format"),
    ],
    ids=["unknown-backend", "missing-cli", "bad-config"],
)
def test_errors_read_the_same_on_both_paths(
    world: World, args: list[str], env: dict[str, str], code: int, message: str
) -> None:
    args = [a.replace("{work}", str(world.work)) for a in args]
    quick = world.run(*args, env=env)
    slow = world.run("-v", *args, env=env)
    assert quick.returncode == slow.returncode == code, (quick.stderr, slow.stderr)
    assert message in quick.stderr
    assert user_stderr(quick) == user_stderr(slow)
    assert "Traceback" not in quick.stderr
    assert world.session_files() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "bogus", "say hi"], "Invalid value for '-o'"),
        (["say hi", "-b", "fake"], "expected one PROMPT argument"),
        (["--new", "-c", "say hi"], "contradict each other"),
        (["-w", "/nonexistent/dir", "say hi"], "does not exist"),
        (["--timeout", "-1", "say hi"], "--timeout"),
    ],
)
def test_what_the_fast_path_does_not_handle_gets_the_click_error(
    world: World, args: list[str], message: str
) -> None:
    proc = world.run(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert world.calls() == []


def test_a_one_word_prompt_and_commands_still_work(world: World) -> None:
    word = world.run("-o", "text", "hello")
    assert word.returncode == 0
    assert word.stdout.startswith("echo: hello")
    assert not fast(word)  # a single word could be a command: click decides
    version = world.run("--", "version")
    assert version.returncode == 0
    assert json.loads(version.stdout)["content"] == "echo: version"


# -- stopping ----------------------------------------------------------------------------------


def test_a_timeout_ends_the_cli_and_exits_124(world: World, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    proc = world.run(
        "--timeout",
        "1",
        "-o",
        "json",
        "will hang",
        env={"CLINVK_BACKENDS__FAKE__EXTRA_FLAGS": f"--hang,--pidfile,{pidfile}"},
    )
    assert proc.returncode == 124, proc.stderr
    assert fast(proc)
    assert json.loads(proc.stdout)["error_code"] == "timeout"
    assert not pid_alive(int(pidfile.read_text()))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_cli_and_exits_130(
    world: World, tmp_path: Path, sig: signal.Signals
) -> None:
    pidfile = tmp_path / "pid"
    proc = world.start("-o", "text", "will hang", fake_flags=f"--hang,--pidfile,{pidfile}")
    wait_for(pidfile, proc)
    child = int(pidfile.read_text())
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "loaded at spawn: \n" in err
    assert "Traceback" not in err
    assert not pid_alive(child)
    [session] = world.session_files()
    assert session["status"] == "error", (err, session)


def test_under_nohup_a_hangup_does_not_stop_the_run(world: World, tmp_path: Path) -> None:
    pidfile, gate = tmp_path / "pid", tmp_path / "go"
    proc = world.start(
        "-o",
        "text",
        "survive the hangup",
        fake_flags=f"--pidfile,{pidfile},--wait-file,{gate}",
        prefix=("sh", "-c", 'trap "" HUP; exec "$0" "$@"'),
    )
    wait_for(pidfile, proc)
    os.killpg(proc.pid, signal.SIGHUP)  # ignored, as nohup asks
    gate.touch()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == "echo: survive the hangup\n"
