"""A CLI started before there is an event loop (``clinvoker.spawn``) and adopted by the runner.

``clinvk PROMPT`` starts the CLI first and loads asyncio while it boots; nothing the CLI did in
the meantime may be lost, and a CLI that is never adopted must still be stopped.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from clinvoker.errors import BackendUnavailable, UsageError
from clinvoker.request import Command
from clinvoker.run_plan import RunPlan
from clinvoker.runner import Runner
from clinvoker.spawn import spawn

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FakeWorld, pid_alive


def py(code: str, **kw: object) -> Command:
    return Command(argv=(sys.executable, "-c", code), **kw)  # type: ignore[arg-type]


def exited(pid: int) -> None:
    """Block until child ``pid`` has exited, without reaping it."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def test_output_written_before_adoption_is_all_read_and_the_exit_code_kept() -> None:
    command = py("import sys; print('one'); print('two'); sys.stderr.write('oops\\n'); sys.exit(3)")
    spawned = spawn(command)
    exited(spawned.pid)  # it finished before any event loop existed

    async def main() -> tuple[list[bytes], int, str]:
        proc = Runner().process(command, spawned=spawned)
        async with proc:
            lines = [line async for line in proc.lines()]
            outcome = await proc.wait()
        return lines, outcome.exit_code, outcome.stderr

    lines, code, stderr = asyncio.run(main())
    assert lines == [b"one", b"two"]
    assert code == 3
    assert stderr == "oops\n"
    assert spawned.popen.returncode == 3  # reaped through the Popen, which knows its status


def test_stdin_is_written_to_an_adopted_process() -> None:
    command = py("import sys; print(sys.stdin.read().upper())", stdin=b"from the prompt")
    spawned = spawn(command)

    async def main() -> list[bytes]:
        proc = Runner().process(command, spawned=spawned)
        async with proc:
            return [line async for line in proc.lines()]

    assert asyncio.run(main()) == [b"FROM THE PROMPT"]


def test_an_adopted_process_that_hangs_is_stopped_by_its_timeout() -> None:
    command = py("import time; print('started', flush=True); time.sleep(60)")
    spawned = spawn(command)

    async def main() -> tuple[bool, int]:
        proc = Runner(grace_s=0.5).process(command, spawned=spawned, timeout_s=0.5)
        async with proc:
            [line async for line in proc.lines()]
            outcome = await proc.wait()
        return outcome.timed_out, outcome.exit_code

    timed_out, code = asyncio.run(main())
    assert timed_out
    assert code == 128 + 15
    assert not pid_alive(spawned.pid)


def test_a_process_closed_before_it_was_adopted_is_stopped_with_its_group(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "grandchild"
    command = py(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    spawned = spawn(command)
    while not pidfile.exists() or not pidfile.read_text():
        assert spawned.popen.poll() is None

    async def main() -> bool:
        proc = Runner().process(command, spawned=spawned)
        outcome = await proc.close()
        return outcome is None

    asyncio.run(main())
    assert spawned.popen.returncode is not None
    assert not pid_alive(spawned.pid)
    assert not pid_alive(int(pidfile.read_text()))


def test_a_run_cancelled_before_it_was_iterated_stops_the_started_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = FakeWorld(tmp_path, monkeypatch)
    plan = RunPlan("hello there", world.kwargs(extra_flags=["--hang"]), dry_run=False)  # type: ignore[arg-type]
    resolved = plan.resolve()
    spawned = spawn(resolved.command, executable=resolved.executable)
    handle = resolved.handle(plan.create_session(resolved))
    handle.adopt(spawned)

    asyncio.run(handle.cancel())
    assert spawned.popen.returncode is not None
    assert not pid_alive(spawned.pid)
    assert handle.session is not None
    [session] = world.store.list()[0]
    assert session.status == "error"


def test_spawn_errors_say_what_was_wrong(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="cannot start '/nonexistent/cli'"):
        spawn(Command(argv=("/nonexistent/cli", "hi")))
    with pytest.raises(UsageError, match="NUL"):
        spawn(Command(argv=(sys.executable, "-c", "pass", "a\0b")))
    with pytest.raises(UsageError, match="working directory"):
        spawn(Command(argv=(sys.executable, "-c", "pass"), cwd=str(tmp_path / "missing")))
    before = set(os.listdir(os.environ.get("TMPDIR", "/tmp")))
    with pytest.raises(BackendUnavailable):
        spawn(Command(argv=("/nonexistent/cli", "{file:a}"), files={"a": b"x"}))
    assert set(os.listdir(os.environ.get("TMPDIR", "/tmp"))) - before == set()
