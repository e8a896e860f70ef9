"""The library API end to end: a fake backend plugin driving a real ``fake-cli`` process."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from clinvoker import api
from clinvoker.errors import (
    BackendUnavailable,
    RunTimeout,
    UnknownBackend,
    UsageError,
)
from clinvoker.events import Done, Error, Event, Message, SessionStarted, TextDelta, UsageReport
from clinvoker.result import Result, Usage
from clinvoker.runner import Runner

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FakeWorld, pid_alive


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWorld:
    return FakeWorld(tmp_path, monkeypatch)


async def collect(handle: api.RunHandle) -> list[Event]:
    return [event async for event in handle]


def events_of(world: FakeWorld, prompt: str, **kw: Any) -> tuple[list[Event], api.RunHandle]:
    handle = api.start(prompt, **world.kwargs(**kw))
    return asyncio.run(collect(handle)), handle


def final(events: list[Event]) -> Result:
    done = events[-1]
    assert isinstance(done, Done)
    return done.result


def assert_well_formed(events: list[Event]) -> None:
    """Numbered from 1 without gaps; exactly one Done, last."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [type(e) for e in events].count(Done) == 1
    assert isinstance(events[-1], Done)


def test_a_run_streams_numbered_events_and_ends_with_one_done(world: FakeWorld) -> None:
    events, handle = events_of(world, "hello world")
    assert_well_formed(events)
    assert isinstance(events[0], SessionStarted)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "echo: hello world"
    assert any(isinstance(e, Message) for e in events)
    assert any(isinstance(e, UsageReport) for e in events)
    result = final(events)
    assert result.ok
    assert result.content == "echo: hello world"
    assert result.session_id == events[0].session_id
    assert result.usage == Usage(input_tokens=11, output_tokens=17)
    assert result.cost_usd == pytest.approx(0.001)
    assert result.model == "fake-default"
    assert result.duration_s > 0
    assert handle.session is not None
    assert result.clinvk_session_id == handle.session.id


def test_a_run_is_recorded_in_a_new_session(world: FakeWorld) -> None:
    world.load_config("session:\n  default_tags: [team]\n")
    events, _ = events_of(world, "hello", tags=["nightly"], metadata={"ticket": "T-1"}, owner="ci")
    result = final(events)
    assert result.clinvk_session_id is not None
    session = world.store.get(result.clinvk_session_id)
    assert session.status == "completed"
    assert session.turn_count == 1
    assert session.working_dir == str(world.workdir.resolve())
    assert session.initial_prompt == "hello"
    assert session.tags == ["team", "nightly"]
    assert session.metadata == {"ticket": "T-1"}
    assert session.owner == "ci"
    assert session.backend_session_id == result.session_id
    assert session.token_usage == result.usage
    assert session.cost_usd == pytest.approx(0.001)
    assert session.backend_state == {"turns": 1}


def test_the_session_exists_before_the_cli_runs(world: FakeWorld) -> None:
    handle = api.start("hi", **world.kwargs())
    assert handle.session is not None
    stored = world.store.get(handle.session.id)
    assert stored.status == "active"
    assert world.calls() == []  # nothing spawned yet
    asyncio.run(collect(handle))
    assert world.store.get(handle.session.id).status == "completed"


def test_default_workdir_is_the_absolute_current_directory(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(world.workdir)
    kwargs = world.kwargs()
    del kwargs["workdir"]
    handle = api.start("hi", **kwargs)
    assert handle.request.workdir == str(world.workdir.resolve())
    asyncio.run(collect(handle))
    assert world.calls()[-1]["cwd"] == str(world.workdir.resolve())


def test_a_crash_midway_ends_with_a_fatal_error_then_done(world: FakeWorld) -> None:
    events, handle = events_of(world, "hello world", extra_flags=["--crash-after", "1"])
    assert_well_formed(events)
    error = events[-2]
    assert isinstance(error, Error)
    assert error.fatal
    assert error.message == "fake-cli: lost connection to the model"
    result = final(events)
    assert result.exit_code == 3
    assert result.error == "fake-cli: lost connection to the model"
    assert not result.ok
    assert handle.session is not None
    session = world.store.get(handle.session.id)
    assert session.status == "error"
    assert session.error_message == "fake-cli: lost connection to the model"


def test_an_error_reported_with_exit_zero_still_fails_the_run(world: FakeWorld) -> None:
    events, _ = events_of(world, "hi", extra_flags=["--error-event", "model overloaded"])
    assert_well_formed(events)
    errors = [e for e in events if isinstance(e, Error)]
    assert [e.message for e in errors] == ["model overloaded"]  # reported once, not repeated
    result = final(events)
    assert result.exit_code == 0
    assert result.error == "model overloaded"
    assert not result.ok


def test_timeout_reports_exit_124_and_kills_the_process_group(world: FakeWorld) -> None:
    grand = world.root / "grandchild"
    started = time.monotonic()
    events, handle = events_of(
        world, "hi", timeout=0.5, extra_flags=["--grandchild", str(grand), "--hang"]
    )
    assert time.monotonic() - started < 10
    assert_well_formed(events)
    error = events[-2]
    assert isinstance(error, Error)
    assert (error.code, error.fatal) == ("timeout", True)
    result = final(events)
    assert result.exit_code == 124
    assert result.error == "timed out after 0.5s"
    assert result.error_code == "timeout"
    assert not pid_alive(int(grand.read_text()))
    with pytest.raises(RunTimeout, match=r"timed out after 0\.5s"):
        api.raise_for_error(result)
    assert handle.session is not None
    assert world.store.get(handle.session.id).status == "error"


def test_config_command_timeout_applies(world: FakeWorld) -> None:
    world.load_config("unified_flags:\n  command_timeout_secs: 1\n")
    events, _ = events_of(world, "hi", extra_flags=["--hang"])
    assert final(events).error_code == "timeout"


def test_cancelling_the_task_kills_the_group_and_marks_the_session(world: FakeWorld) -> None:
    grand = world.root / "grandchild"
    own = world.root / "pid"
    handle = api.start(
        "hi",
        **world.kwargs(extra_flags=["--pidfile", str(own), "--grandchild", str(grand), "--hang"]),
    )

    async def scenario() -> list[Event]:
        seen: list[Event] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for event in handle:
                seen.append(event)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    seen = asyncio.run(scenario())
    assert isinstance(seen[0], SessionStarted)
    assert not any(isinstance(e, Done) for e in seen)
    assert not pid_alive(int(own.read_text()))
    assert not pid_alive(int(grand.read_text()))
    assert handle.session is not None
    session = world.store.get(handle.session.id)
    assert session.status == "error"
    assert session.error_message == "cancelled"
    assert session.backend_session_id == seen[0].session_id  # still resumable


def test_handle_cancel_ends_the_stream_with_cancelled_and_done(world: FakeWorld) -> None:
    handle = api.start("hi", **world.kwargs(extra_flags=["--hang"]))

    async def scenario() -> list[Event]:
        seen: list[Event] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for event in handle:
                seen.append(event)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 20)
        await handle.cancel()
        await asyncio.wait_for(task, 20)
        return seen

    seen = asyncio.run(scenario())
    assert_well_formed(seen)
    error = seen[-2]
    assert isinstance(error, Error)
    assert error.code == "cancelled"
    result = final(seen)
    assert (result.exit_code, result.error_code) == (130, "cancelled")


def test_leaving_the_stream_early_stops_the_cli(world: FakeWorld) -> None:
    own = world.root / "pid"

    async def scenario() -> None:
        async for event in api.stream(
            "hi", **world.kwargs(extra_flags=["--pidfile", str(own), "--hang"])
        ):
            assert isinstance(event, SessionStarted)
            break

    asyncio.run(scenario())
    assert not pid_alive(int(own.read_text()))


def test_malformed_output_is_a_fatal_error(world: FakeWorld) -> None:
    runner = Runner(max_line_bytes=64 * 1024)
    events, _ = events_of(world, "hi", runner=runner, extra_flags=["--big-line", "200000"])
    assert_well_formed(events)
    error = events[-2]
    assert isinstance(error, Error)
    assert error.code == "malformed_output"
    assert final(events).error_code == "malformed_output"


def test_a_16_mib_answer_line_reaches_the_backend_parser_intact(world: FakeWorld) -> None:
    size = 16 * 1024 * 1024
    events, _ = events_of(world, "big", extra_flags=["--big-line", str(size)])
    assert_well_formed(events)
    big = [e for e in events if isinstance(e, TextDelta) and len(e.text) > 1000]
    assert len(big) == 1
    assert len(big[0].text) == size - len('{"type": "text", "text": ""}')
    assert final(events).ok


def test_on_native_line_sees_the_raw_cli_output(world: FakeWorld) -> None:
    handle = api.start("hi", **world.kwargs())
    raw: list[bytes] = []
    handle.on_native_line = raw.append
    asyncio.run(collect(handle))
    assert raw[0].startswith(b'{"type": "init"')
    assert raw[-1].startswith(b'{"type": "result"')


def test_text_output_passes_the_whole_stdout_to_parse_output(world: FakeWorld) -> None:
    events, _ = events_of(world, "hi", output="text")
    assert_well_formed(events)
    assert final(events).content == "echo: hi\n\nbye"
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["echo: hi\n\nbye"]


def test_system_prompt_reaches_the_cli_through_a_private_file(world: FakeWorld) -> None:
    handle = api.start("hi", **world.kwargs(system_prompt="be terse"))
    raw: list[bytes] = []
    handle.on_native_line = raw.append
    asyncio.run(collect(handle))
    assert b'"system_prompt": "be terse"' in raw[0]


def test_missing_cli_fails_before_anything_is_recorded(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(world.root / "empty"))
    with pytest.raises(BackendUnavailable, match=r"fake-cli CLI not found on PATH; install it"):
        api.start("hi", **world.kwargs())
    assert world.store.count() == 0


def test_unknown_backend(world: FakeWorld) -> None:
    with pytest.raises(UnknownBackend, match=r"unknown backend 'nope' \(installed: fake, fake2\)"):
        api.start("hi", **world.kwargs(backend="nope"))


def test_a_missing_workdir_is_a_usage_error(world: FakeWorld) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        api.start("hi", **world.kwargs(workdir=str(world.root / "nope")))


def test_prepare_resolves_without_spawning_or_recording(world: FakeWorld) -> None:
    handle = api.prepare("hi", **world.kwargs(model="fast"))
    assert handle.session is None
    assert handle.command.argv[0] == str(world.exe)
    assert handle.command.argv[-2:] == ("--", "hi")
    assert "fake-mini" in handle.command.argv
    assert world.store.count() == 0
    assert world.calls() == []
    with pytest.raises(UsageError, match="prepare"):
        asyncio.run(collect(handle))


def test_prepare_works_without_the_cli_installed(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(world.root / "empty"))
    handle = api.prepare("hi", **world.kwargs())
    assert handle.executable is None
    assert handle.command.argv[0] == "fake-cli"


def test_run_returns_failed_results_and_raise_for_error_raises(world: FakeWorld) -> None:
    result = asyncio.run(api.run("hi", **world.kwargs(extra_flags=["--crash-after", "0"])))
    assert result.exit_code == 3
    with pytest.raises(Exception, match="lost connection") as info:
        api.raise_for_error(result)
    assert type(info.value).__name__ == "BackendCrashed"
    ok = asyncio.run(api.run("hi", **world.kwargs()))
    assert api.raise_for_error(ok) is ok


def test_run_sync_works_inside_a_running_event_loop(world: FakeWorld) -> None:
    async def inside() -> Result:
        return api.run_sync("from a loop", **world.kwargs())

    assert asyncio.run(inside()).content == "echo: from a loop"


def test_handle_result_runs_the_whole_thing(world: FakeWorld) -> None:
    async def scenario() -> tuple[Result, Result]:
        handle = api.start("twice", **world.kwargs())
        return await handle.result(), await handle.result()

    first, again = asyncio.run(scenario())
    assert first is again
    assert first.content == "echo: twice"
