"""Sessions through the API: resume by id or prefix, continue_last, ephemeral runs."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from clinvoker import api
from clinvoker.errors import SessionNotFound, UsageError, ValidationError
from clinvoker.events import SessionStarted
from clinvoker.result import Result

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FakeWorld


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWorld:
    return FakeWorld(tmp_path, monkeypatch)


def run(world: FakeWorld, prompt: str, **kw: Any) -> Result:
    return asyncio.run(api.run(prompt, **world.kwargs(**kw)))


def argv_of_last_call(world: FakeWorld) -> list[str]:
    argv: list[str] = world.calls()[-1]["argv"]
    return argv


def test_resume_by_prefix_continues_the_backend_conversation(world: FakeWorld) -> None:
    first = run(world, "first")
    assert first.clinvk_session_id is not None
    assert "--session-id" in argv_of_last_call(world)  # a new conversation gets a preset id
    second = run(world, "second", resume=first.clinvk_session_id[:8])
    argv = argv_of_last_call(world)
    assert argv[argv.index("--resume") + 1] == first.session_id
    assert "--session-id" not in argv
    assert second.clinvk_session_id == first.clinvk_session_id
    assert second.session_id == first.session_id
    assert second.backend_state == {"turns": 2}  # the previous turn's state came back
    session = world.store.get(first.clinvk_session_id)
    assert session.turn_count == 2
    assert session.initial_prompt == "first"
    assert first.usage is not None
    assert second.usage is not None
    assert session.token_usage == first.usage + second.usage
    assert session.cost_usd == pytest.approx(0.002)
    assert world.store.count() == 1


def test_resume_runs_in_the_sessions_own_workdir(world: FakeWorld) -> None:
    first = run(world, "first")
    assert first.clinvk_session_id is not None
    kwargs = world.kwargs(resume=first.clinvk_session_id)
    del kwargs["workdir"]
    asyncio.run(api.run("again", **kwargs))
    assert world.calls()[-1]["cwd"] == str(world.workdir.resolve())


def test_resume_refuses_another_workdir_or_backend(world: FakeWorld) -> None:
    first = run(world, "first")
    assert first.clinvk_session_id is not None
    elsewhere = world.root / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(ValidationError, match="drop the workdir"):
        api.start("x", **world.kwargs(resume=first.clinvk_session_id, workdir=str(elsewhere)))
    with pytest.raises(ValidationError, match="belongs to backend 'fake', not 'other'"):
        api.start("x", **world.kwargs(resume=first.clinvk_session_id, backend="other"))


def test_resume_of_an_unknown_session(world: FakeWorld) -> None:
    with pytest.raises(SessionNotFound):
        api.start("x", **world.kwargs(resume="abcdef12"))


def test_resume_of_a_session_without_a_backend_conversation(world: FakeWorld) -> None:
    failed = run(world, "x", extra_flags=["--crash-after", "0"])
    assert failed.clinvk_session_id is not None
    # The crash happened after the init line, so the conversation id is known; forget it.
    world.store.update(failed.clinvk_session_id, lambda s: setattr(s, "backend_session_id", None))
    with pytest.raises(ValidationError, match="cannot be resumed; start a new session"):
        api.start("x", **world.kwargs(resume=failed.clinvk_session_id))


def test_continue_last_resumes_the_newest_session_of_this_workdir(world: FakeWorld) -> None:
    older = run(world, "older")
    newer = run(world, "newer")
    other_dir = world.root / "other"
    other_dir.mkdir()
    run(world, "somewhere else", workdir=str(other_dir))
    again = run(world, "continue", continue_last=True)
    assert again.clinvk_session_id == newer.clinvk_session_id
    assert again.clinvk_session_id != older.clinvk_session_id
    argv = argv_of_last_call(world)
    assert argv[argv.index("--resume") + 1] == newer.session_id


def test_continue_last_starts_a_new_session_when_none_exists(world: FakeWorld) -> None:
    result = run(world, "fresh", continue_last=True)
    assert result.clinvk_session_id is not None
    assert "--resume" not in argv_of_last_call(world)
    assert world.store.count() == 1


def test_continue_last_is_per_owner(world: FakeWorld) -> None:
    alice = run(world, "a", owner="alice")
    bob = run(world, "b", owner="bob")
    assert run(world, "again", owner="alice", continue_last=True).clinvk_session_id == (
        alice.clinvk_session_id
    )
    assert bob.clinvk_session_id != alice.clinvk_session_id


def test_ephemeral_runs_keep_no_session_and_clean_up_the_backend_side(world: FakeWorld) -> None:
    handle = api.start("secret", **world.kwargs(ephemeral=True))
    assert handle.request.ephemeral
    assert handle.session is None
    result = asyncio.run(handle.result())
    assert result.ok
    assert result.clinvk_session_id is None
    assert world.store.count() == 0
    run_call, cleanup_call = world.calls()
    assert "--ephemeral" in run_call["argv"]
    # the conversation id is preset, so cleanup can delete it even when the CLI never prints it
    preset = run_call["argv"][run_call["argv"].index("--session-id") + 1]
    assert preset == handle.request.new_session_id
    assert result.session_id == preset
    assert cleanup_call["argv"] == ["--delete-session", preset]
    assert cleanup_call["cwd"] == str(world.workdir.resolve())


def test_ephemeral_and_resume_contradict(world: FakeWorld) -> None:
    with pytest.raises(UsageError, match="ephemeral"):
        api.start("x", **world.kwargs(ephemeral=True, continue_last=True))


def test_a_cancelled_ephemeral_run_still_cleans_up_the_backend_side(world: FakeWorld) -> None:
    handle = api.start("secret", **world.kwargs(ephemeral=True, extra_flags=["--hang"]))

    async def scenario() -> str:
        first = asyncio.Event()
        seen: list[str] = []

        async def consume() -> None:
            async for event in handle:
                if isinstance(event, SessionStarted):
                    seen.append(event.session_id)
                    first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 20
        while not any("--delete-session" in c["argv"] for c in world.calls()):
            assert time.monotonic() < deadline, "no cleanup after the cancelled run"
            await asyncio.sleep(0.02)
        return seen[0]

    session_id = asyncio.run(scenario())
    assert world.calls()[-1]["argv"] == ["--delete-session", session_id]
