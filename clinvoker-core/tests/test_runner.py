"""The runner spawns real processes: framing, stdin, files, env, stderr, timeouts, process groups."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from clinvoker.errors import BackendUnavailable, UsageError
from clinvoker.request import Command
from clinvoker.runner import Process, ProcessExit, Runner

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FAKE_CLI, pid_alive

MiB = 1024 * 1024


def fake(*args: str, **kw: Any) -> Command:
    return Command(argv=(sys.executable, str(FAKE_CLI), *args), **kw)


def py(code: str, **kw: Any) -> Command:
    return Command(argv=(sys.executable, "-c", code), **kw)


async def collect(proc: Process) -> tuple[list[bytes], ProcessExit]:
    async with proc:
        lines = [line async for line in proc.lines()]
        return lines, await proc.wait()


def run_all(
    command: Command, runner: Runner | None = None, **kw: Any
) -> tuple[list[Any], ProcessExit]:
    lines, outcome = asyncio.run(collect((runner or Runner()).process(command, **kw)))
    return [json.loads(line) for line in lines if line.startswith(b"{")], outcome


def read_pid(path: Path) -> int:
    return int(path.read_text())


def test_stdout_lines_arrive_in_order_and_the_exit_code_is_reported() -> None:
    events, outcome = run_all(fake("--chunks", "3", "--exit-code", "7", "--", "hello world"))
    assert [e["type"] for e in events] == ["init", "text", "text", "text", "text", "result"]
    assert "".join(e["text"] for e in events if e["type"] == "text") == "echo: hello world"
    assert outcome.exit_code == 7
    assert not outcome.timed_out
    assert not outcome.cancelled
    assert not outcome.line_too_long


def test_stdin_bytes_are_written_then_closed() -> None:
    events, outcome = run_all(fake("--stdin", "--chunks", "1", stdin=b"prompt via stdin"))
    assert outcome.exit_code == 0
    assert [e["text"] for e in events if e["type"] == "text"] == ["echo: prompt via stdin"]


def test_without_stdin_the_child_reads_dev_null() -> None:
    code = (
        "import os,sys; print(os.path.realpath('/proc/self/fd/0')); print(repr(sys.stdin.read()))"
    )
    lines, outcome = asyncio.run(collect(Runner().process(py(code), timeout_s=20)))
    assert lines == [b"/dev/null", b"''"]
    assert outcome.exit_code == 0


def test_files_are_private_substituted_in_argv_and_env_and_removed(tmp_path: Path) -> None:
    code = (
        "import json,os,sys; p=sys.argv[1]; d=os.path.dirname(p);"
        "print(json.dumps({'path': p, 'env': os.environ['FAKE_SYS'], 'text': open(p).read(),"
        "'dir_mode': oct(os.stat(d).st_mode & 0o777), 'file_mode': oct(os.stat(p).st_mode & 0o777)}))"
    )
    cmd = Command(
        argv=(sys.executable, "-c", code, "{file:system.md}"),
        env={"FAKE_SYS": "--system={file:system.md}"},
        files={"system.md": b"be brief"},
    )
    events, outcome = run_all(cmd)
    (info,) = events
    assert outcome.exit_code == 0
    assert info["text"] == "be brief"
    assert info["env"] == f"--system={info['path']}"
    assert (info["dir_mode"], info["file_mode"]) == ("0o700", "0o600")
    assert not os.path.exists(os.path.dirname(info["path"]))


def argv_seen_by_child(command: Command) -> list[str]:
    lines, outcome = asyncio.run(collect(Runner().process(command)))
    assert outcome.exit_code == 0
    seen: list[str] = json.loads(lines[0])
    return seen


ECHO_ARGV = "import json,sys; print(json.dumps(sys.argv[1:]))"


def test_user_text_that_looks_like_a_file_placeholder_reaches_the_cli_verbatim() -> None:
    prompt = "compare {file:notes.md} with {file:system.md}"
    assert argv_seen_by_child(Command(argv=(sys.executable, "-c", ECHO_ARGV, prompt))) == [prompt]
    # with files, only the names the backend asked for are placeholders
    with_files = Command(argv=(sys.executable, "-c", ECHO_ARGV, prompt), files={"system.md": b"x"})
    (seen,) = argv_seen_by_child(with_files)
    assert seen.startswith("compare {file:notes.md} with /")
    assert seen.endswith("/system.md")


def test_a_nul_byte_in_an_argument_is_a_clear_usage_error() -> None:
    with pytest.raises(UsageError, match="NUL"):
        run_all(Command(argv=(sys.executable, "-c", "pass", "a\x00b")))


def test_environment_is_inherited_extended_and_can_drop_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_INHERITED", "from parent")
    monkeypatch.setenv("FAKE_DROPPED", "should vanish")
    cmd = fake(
        "--print-env", "FAKE_INHERITED", "--print-env", "FAKE_ADDED", "--print-env", "FAKE_DROPPED",
        env={"FAKE_ADDED": "added", "FAKE_DROPPED": ""},
    )  # fmt: skip
    events, _ = run_all(cmd)
    env = {e["name"]: e["value"] for e in events if e["type"] == "env"}
    assert env == {"FAKE_INHERITED": "from parent", "FAKE_ADDED": "added", "FAKE_DROPPED": None}


def test_a_16_mib_json_line_comes_through_intact() -> None:
    events, outcome = run_all(fake("--big-line", str(16 * MiB), "--", "after"))
    big = [e for e in events if e["type"] == "text" and len(e["text"]) > 1000]
    assert len(big) == 1
    assert len(json.dumps(big[0])) == 16 * MiB
    assert set(big[0]["text"]) == {"x"}
    assert events[-1]["type"] == "result"
    assert outcome.exit_code == 0


def test_a_line_over_the_limit_stops_the_process_instead_of_growing_memory(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    runner = Runner(max_line_bytes=1 * MiB)
    cmd = fake("--pidfile", str(pidfile), "--big-line", str(3 * MiB), "--hang")
    events, outcome = run_all(cmd, runner)
    assert outcome.line_too_long
    assert [e["type"] for e in events] == ["init"]  # lines before the long one still arrive
    assert not pid_alive(read_pid(pidfile))


def test_50_mb_of_stderr_neither_deadlocks_nor_is_kept_whole() -> None:
    events, outcome = run_all(fake("--stderr-flood", str(50_000_000), "--", "still here"))
    assert outcome.exit_code == 0
    assert events[-1]["type"] == "result"
    assert len(outcome.stderr) <= 64 * 1024
    assert outcome.stderr.rstrip().endswith("flood done")


def test_timeout_ends_the_whole_process_group(tmp_path: Path) -> None:
    pidfile, grandfile = tmp_path / "pid", tmp_path / "grandchild"
    cmd = fake("--pidfile", str(pidfile), "--grandchild", str(grandfile), "--hang")
    started = time.monotonic()
    events, outcome = run_all(cmd, timeout_s=1.0)
    assert outcome.timed_out
    assert outcome.signal == signal.SIGTERM
    assert 1.0 <= time.monotonic() - started < 10
    assert [e["type"] for e in events] == ["init"]
    assert not pid_alive(read_pid(pidfile))
    assert not pid_alive(read_pid(grandfile))


def test_cancelling_the_reading_task_kills_child_and_grandchild(tmp_path: Path) -> None:
    pidfile, grandfile = tmp_path / "pid", tmp_path / "grandchild"
    cmd = fake("--pidfile", str(pidfile), "--grandchild", str(grandfile), "--hang")

    async def scenario() -> Process:
        proc = Runner().process(cmd)
        got_first_line = asyncio.Event()

        async def consume() -> None:
            async with proc:
                async for _ in proc.lines():
                    got_first_line.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_first_line.wait(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return proc

    proc = asyncio.run(scenario())
    assert proc.cancelled
    assert proc.returncode == -signal.SIGTERM  # reaped: the exit status was collected
    assert not pid_alive(read_pid(pidfile))
    assert not pid_alive(read_pid(grandfile))


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    pidfile, grandfile = tmp_path / "pid", tmp_path / "grandchild"
    cmd = fake(
        "--ignore-term", "--pidfile", str(pidfile), "--grandchild", str(grandfile), "--hang"
    )  # fmt: skip

    async def scenario() -> tuple[ProcessExit | None, float]:
        proc = Runner(grace_s=0.5).process(cmd)
        await proc.start()
        async for _ in proc.lines():
            break  # the init line: SIGTERM is ignored from now on
        began = time.monotonic()
        outcome = await proc.close()
        return outcome, time.monotonic() - began

    outcome, took = asyncio.run(scenario())
    assert outcome is not None
    assert outcome.cancelled
    assert outcome.signal == signal.SIGKILL
    assert outcome.exit_code == 128 + signal.SIGKILL
    assert took >= 0.5
    assert not pid_alive(read_pid(pidfile))
    assert not pid_alive(read_pid(grandfile))


def test_a_grandchild_left_behind_after_a_normal_exit_is_stopped(tmp_path: Path) -> None:
    grandfile = tmp_path / "grandchild"
    events, outcome = run_all(fake("--grandchild", str(grandfile), "--", "hi"), timeout_s=30)
    assert outcome.exit_code == 0
    assert not outcome.timed_out
    assert events[-1]["type"] == "result"
    assert not pid_alive(read_pid(grandfile))


def test_crash_midway_reports_the_exit_code_and_stderr() -> None:
    events, outcome = run_all(fake("--crash-after", "1", "--", "hello world"))
    assert [e["type"] for e in events] == ["init", "text"]
    assert outcome.exit_code == 3
    assert "lost connection" in outcome.stderr


def test_many_lines_survive_flow_control() -> None:
    code = "import sys\nfor i in range(200000): sys.stdout.write(f'{i:08d}' + 'y' * 92 + '\\n')"
    lines, outcome = asyncio.run(collect(Runner().process(py(code))))
    assert outcome.exit_code == 0
    assert len(lines) == 200000
    assert lines[123456] == b"00123456" + b"y" * 92


def test_a_last_line_without_newline_is_delivered() -> None:
    lines, _ = asyncio.run(collect(Runner().process(py("print('a'); print('', end='b')"))))
    assert lines == [b"a", b"b"]


def test_missing_executable_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="no-such-cli"):
        asyncio.run(collect(Runner().process(Command(argv=("no-such-cli-xyz",)))))


def test_missing_working_directory_is_a_usage_error(tmp_path: Path) -> None:
    cmd = py("print(1)", cwd=str(tmp_path / "nope"))
    with pytest.raises(UsageError, match="does not exist"):
        asyncio.run(collect(Runner().process(cmd)))


def test_executable_override_replaces_argv0() -> None:
    cmd = Command(argv=("python-by-another-name", "-c", "print('ran')"))
    lines, outcome = asyncio.run(collect(Runner().process(cmd, executable=sys.executable)))
    assert lines == [b"ran"]
    assert outcome.exit_code == 0


def test_capture_returns_whole_stdout() -> None:
    captured = asyncio.run(Runner().capture(py("print('one'); print('two')"), timeout_s=20))
    assert captured.stdout == b"one\ntwo"
    assert captured.exit.exit_code == 0


def test_close_without_start_is_harmless() -> None:
    async def scenario() -> ProcessExit | None:
        return await Runner().process(py("print(1)")).close()

    assert asyncio.run(scenario()) is None


def test_cancelling_while_the_process_is_being_spawned_leaves_nothing_running() -> None:
    async def scenario() -> Process:
        proc = Runner().process(fake("--hang"))
        task = asyncio.create_task(proc.start())
        await asyncio.sleep(0)  # one turn of the loop: the child exists, its pipes are connecting
        assert proc.pid is None or proc.returncode is None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return proc

    proc = asyncio.run(scenario())
    assert proc.pid is not None
    assert proc.returncode is not None  # stopped and reaped
    assert not pid_alive(proc.pid)
