"""parallel / chain / compare over real ``fake-cli`` processes."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from clinvoker.errors import UsageError
from clinvoker.orchestrate import (
    ChainSpec,
    Outcome,
    ParallelSpec,
    Step,
    Task,
    run_chain,
    run_compare,
    run_parallel,
    write_output_dir,
)

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FakeWorld, pid_alive


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWorld:
    return FakeWorld(tmp_path, monkeypatch)


def deps(world: FakeWorld, **overrides: Any) -> dict[str, Any]:
    base = {
        "config": world.config,
        "host": world.host,
        "store": world.store,
        "workdir": str(world.workdir),
    }
    return {**base, **overrides}


def runs_spawned(world: FakeWorld) -> list[dict[str, Any]]:
    """The CLI calls that were runs (not ephemeral cleanups)."""
    return [c for c in world.calls() if "--delete-session" not in c["argv"]]


class Tracker:
    """Progress hooks that remember the order of events and the peak concurrency."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.running = 0
        self.peak = 0

    def start(self, index: int) -> None:
        self.log.append(("start", index))
        self.running += 1
        self.peak = max(self.peak, self.running)

    def done(self, outcome: Outcome) -> None:
        self.log.append(("done", outcome.index))
        if outcome.start_time is not None:
            self.running -= 1

    def hooks(self) -> dict[str, Any]:
        return {"on_start": self.start, "on_done": self.done}

    def finished(self) -> list[int]:
        return [i for kind, i in self.log if kind == "done"]


# -- parallel ----------------------------------------------------------------------------------


def test_parallel_results_are_in_task_order_whatever_finishes_first(world: FakeWorld) -> None:
    spec = ParallelSpec(
        tasks=[
            Task(prompt="slow", extra=["--sleep", "1.5"], name="slow one"),
            Task(prompt="quick", id="q1"),
            Task(prompt="also quick", tags=["x"], meta={"k": "v"}),
        ]
    )
    tracker = Tracker()
    report = asyncio.run(run_parallel(spec, **deps(world), **tracker.hooks()))
    assert [r.output for r in report.results] == ["echo: slow", "echo: quick", "echo: also quick"]
    assert tracker.finished()[-1] == 0  # the slow one finished last
    assert (report.completed, report.failed, report.cancelled) == (3, 0, 0)
    assert report.ok
    assert world.store.count() == 0  # ephemeral
    data = report.to_dict()
    assert data["total_tasks"] == 3
    first, second, third = data["results"]
    assert first["task_name"] == "slow one"
    assert second["task_id"] == "q1"
    assert (third["tags"], third["meta"]) == (["x"], {"k": "v"})
    assert [r["index"] for r in data["results"]] == [0, 1, 2]
    assert all(r["exit_code"] == 0 and r["status"] == "completed" for r in data["results"])
    assert data["start_time"].endswith("Z")


def test_parallel_respects_max_parallel(world: FakeWorld) -> None:
    spec = ParallelSpec(tasks=[Task(prompt=f"t{i}", extra=["--sleep", "0.4"]) for i in range(5)])
    tracker = Tracker()
    report = asyncio.run(run_parallel(spec, max_parallel=2, **deps(world), **tracker.hooks()))
    assert report.completed == 5
    assert tracker.peak == 2


def test_parallel_limit_comes_from_the_file_then_config(world: FakeWorld) -> None:
    world.load_config("parallel:\n  max_workers: 1\n")
    tasks = [Task(prompt=f"t{i}", extra=["--sleep", "0.2"]) for i in range(3)]
    tracker = Tracker()
    asyncio.run(run_parallel(ParallelSpec(tasks=tasks), **deps(world), **tracker.hooks()))
    assert tracker.peak == 1
    tracker = Tracker()
    spec = ParallelSpec(tasks=tasks, max_parallel=3)
    asyncio.run(run_parallel(spec, **deps(world), **tracker.hooks()))
    assert tracker.peak == 3


def test_fail_fast_kills_running_tasks_and_skips_the_rest(world: FakeWorld) -> None:
    pidfile, grandfile = world.root / "pid", world.root / "grand"
    spec = ParallelSpec(
        tasks=[
            Task(prompt="fails", extra=["--wait-file", str(pidfile), "--crash-after", "0"]),
            Task(
                prompt="hangs",
                extra=["--pidfile", str(pidfile), "--grandchild", str(grandfile), "--hang"],
            ),
            Task(prompt="never started"),
            Task(prompt="never started either"),
        ],
        max_parallel=2,
        fail_fast=True,
    )
    started = time.monotonic()
    report = asyncio.run(run_parallel(spec, **deps(world)))
    assert time.monotonic() - started < 20
    assert [r.status for r in report.results] == ["failed", "cancelled", "cancelled", "cancelled"]
    assert (report.completed, report.failed, report.cancelled) == (0, 1, 3)
    assert report.results[0].exit_code == 3
    assert all(r.exit_code == -1 for r in report.results[1:])
    assert report.results[1].error == "canceled (fail-fast)"
    assert not pid_alive(int(pidfile.read_text()))
    assert not pid_alive(int(grandfile.read_text()))
    assert len(runs_spawned(world)) == 2  # the last two never spawned


def test_without_fail_fast_every_task_runs(world: FakeWorld) -> None:
    spec = ParallelSpec(
        tasks=[Task(prompt="fails", extra=["--crash-after", "0"]), Task(prompt="fine")]
    )
    report = asyncio.run(run_parallel(spec, **deps(world)))
    assert [r.status for r in report.results] == ["failed", "completed"]
    assert report.results[0].error == "fake-cli: lost connection to the model"


def test_parallel_tasks_get_timeouts(world: FakeWorld) -> None:
    spec = ParallelSpec(
        tasks=[Task(prompt="hangs", extra=["--hang"], timeout=0.5), Task(prompt="fine")]
    )
    report = asyncio.run(run_parallel(spec, **deps(world)))
    hung, fine = report.results
    assert (hung.status, hung.exit_code, hung.error) == ("failed", 124, "timed out after 0.5s")
    assert fine.ok


def test_config_command_timeout_applies_to_tasks(world: FakeWorld) -> None:
    world.load_config("unified_flags:\n  command_timeout_secs: 1\n")
    spec = ParallelSpec(tasks=[Task(prompt="hangs", extra=["--hang"])])
    (outcome,) = asyncio.run(run_parallel(spec, **deps(world))).results
    assert outcome.error_code == "timeout"


def test_cancelling_a_parallel_run_stops_every_process(world: FakeWorld) -> None:
    pids = [world.root / f"pid{i}" for i in range(2)]
    spec = ParallelSpec(
        tasks=[
            Task(prompt=f"t{i}", extra=["--pidfile", str(p), "--hang"]) for i, p in enumerate(pids)
        ]
    )

    async def scenario() -> None:
        task = asyncio.create_task(run_parallel(spec, **deps(world)))
        deadline = time.monotonic() + 20
        while not all(p.exists() for p in pids):
            assert time.monotonic() < deadline, "tasks did not start"
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert not any(pid_alive(int(p.read_text())) for p in pids)


def test_parallel_dry_run_spawns_nothing(world: FakeWorld) -> None:
    spec = ParallelSpec(tasks=[Task(prompt="hi", model="fast")], dry_run=True)
    (outcome,) = asyncio.run(run_parallel(spec, **deps(world))).results
    assert outcome.status == "completed"
    assert outcome.command is not None
    assert outcome.command[0] == str(world.exe)
    assert "fake-mini" in outcome.command
    assert world.calls() == []


def test_a_task_for_an_unknown_backend_fails_alone(world: FakeWorld) -> None:
    spec = ParallelSpec(tasks=[Task(prompt="x", backend="nope"), Task(prompt="y")])
    bad, good = asyncio.run(run_parallel(spec, **deps(world))).results
    assert (bad.status, bad.error_code) == ("failed", "unknown_backend")
    assert "unknown backend 'nope'" in (bad.error or "")
    assert good.ok


def test_no_tasks_is_a_usage_error(world: FakeWorld) -> None:
    with pytest.raises(UsageError, match="no tasks provided"):
        asyncio.run(run_parallel(ParallelSpec(tasks=[]), **deps(world)))


def test_output_dir_gets_a_private_summary_and_one_file_per_task(world: FakeWorld) -> None:
    tasks = [
        Task(prompt="a", id="first/task"),
        Task(prompt="b", name="Second Task!"),
        Task(prompt="c"),
    ]
    report = asyncio.run(run_parallel(ParallelSpec(tasks=tasks), **deps(world)))
    out = write_output_dir(report, tasks, world.root / "results")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "001_first_task.json",
        "002_Second_Task.json",
        "003_task-3.json",
        "summary.json",
    ]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())
    one = json.loads((out / "002_Second_Task.json").read_text())
    assert one["task"]["prompt"] == "b"
    assert one["result"]["output"] == "echo: b"
    assert json.loads((out / "summary.json").read_text())["completed"] == 3


# -- chain -------------------------------------------------------------------------------------


def test_chain_feeds_each_answer_to_the_next_step(world: FakeWorld) -> None:
    spec = ChainSpec(steps=[Step(prompt="alpha", name="draft"), Step(prompt="say {{previous}}")])
    report = asyncio.run(run_chain(spec, **deps(world)))
    assert [r.output for r in report.results] == ["echo: alpha", "echo: say echo: alpha"]
    assert report.ok
    data = report.to_dict()
    assert (data["total_steps"], data["completed_steps"]) == (2, 2)
    assert "failed_step" not in data
    assert [r["step"] for r in data["results"]] == [1, 2]
    assert data["results"][0]["name"] == "draft"


def test_chain_stops_at_the_first_failure(world: FakeWorld) -> None:
    spec = ChainSpec(
        steps=[
            Step(prompt="one"),
            Step(prompt="two", extra=["--crash-after", "0"]),
            Step(prompt="three"),
        ]
    )
    report = asyncio.run(run_chain(spec, **deps(world)))
    assert len(report.results) == 2
    assert report.failed_step == 2
    assert not report.ok
    assert len(runs_spawned(world)) == 2


def test_chain_can_continue_past_failures(world: FakeWorld) -> None:
    spec = ChainSpec(
        steps=[
            Step(prompt="one", extra=["--crash-after", "0"]),
            Step(prompt="two"),
            Step(prompt="three", extra=["--crash-after", "0"]),
            Step(prompt="four"),
        ],
        stop_on_failure=False,
    )
    report = asyncio.run(run_chain(spec, **deps(world)))
    assert [r.status for r in report.results] == ["failed", "completed", "failed", "completed"]
    assert report.failed_step == 3


def test_chain_passes_the_working_directory_on(world: FakeWorld) -> None:
    elsewhere = world.root / "elsewhere"
    elsewhere.mkdir()
    spec = ChainSpec(
        steps=[Step(prompt="one", workdir=str(elsewhere)), Step(prompt="two")],
        pass_working_dir=True,
    )
    asyncio.run(run_chain(spec, **deps(world)))
    assert [c["cwd"] for c in runs_spawned(world)] == [str(elsewhere.resolve())] * 2
    spec = ChainSpec(steps=[Step(prompt="one", workdir=str(elsewhere)), Step(prompt="two")])
    asyncio.run(run_chain(spec, **deps(world)))
    assert runs_spawned(world)[-1]["cwd"] == str(world.workdir.resolve())


def test_chain_step_model_wins_over_the_chain_model(world: FakeWorld) -> None:
    spec = ChainSpec(steps=[Step(prompt="one"), Step(prompt="two", model="best")])
    report = asyncio.run(run_chain(spec, model="fast", **deps(world)))
    assert [r.model for r in report.results] == ["fake-mini", "fake-max"]


def test_chain_steps_time_out(world: FakeWorld) -> None:
    spec = ChainSpec(steps=[Step(prompt="one", extra=["--hang"], timeout=0.5), Step(prompt="two")])
    report = asyncio.run(run_chain(spec, **deps(world)))
    assert report.failed_step == 1
    assert report.results[0].exit_code == 124


def test_chain_with_persisted_sessions_continues_the_conversation(world: FakeWorld) -> None:
    spec = ChainSpec(
        steps=[Step(prompt="one"), Step(prompt="two in {{session}}")],
        persist_sessions=True,
        pass_session_id=True,
    )
    report = asyncio.run(run_chain(spec, **deps(world)))
    first, second = report.results
    assert first.clinvk_session_id is not None
    assert second.clinvk_session_id == first.clinvk_session_id
    assert second.output == f"echo: two in {first.clinvk_session_id}"
    argv = runs_spawned(world)[-1]["argv"]
    assert argv[argv.index("--resume") + 1] == first.session_id
    assert world.store.get(first.clinvk_session_id).turn_count == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ChainSpec(steps=[]), "no steps defined in chain"),
        (
            ChainSpec(steps=[Step(prompt="{{session}}")]),
            "uses {{session}} but sessions are not persisted",
        ),
        (ChainSpec(steps=[Step(prompt="x")], pass_session_id=True), "needs persist_sessions"),
    ],
)
def test_chain_definition_errors(world: FakeWorld, spec: ChainSpec, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("{", r"\{").replace("}", r"\}")):
        asyncio.run(run_chain(spec, **deps(world)))


def test_chain_dry_run_keeps_placeholders_and_spawns_nothing(world: FakeWorld) -> None:
    spec = ChainSpec(steps=[Step(prompt="one"), Step(prompt="two {{previous}}")], dry_run=True)
    report = asyncio.run(run_chain(spec, **deps(world)))
    assert report.results[1].command is not None
    assert report.results[1].command[-1] == "two {{previous}}"
    assert world.calls() == []


# -- compare -----------------------------------------------------------------------------------


def test_compare_keeps_the_order_given(world: FakeWorld) -> None:
    world.load_config("backends:\n  fake2:\n    extra_flags: [--sleep, '1']\n")
    tracker = Tracker()
    report = asyncio.run(
        run_compare("same question", ["fake2", "fake"], **deps(world), **tracker.hooks())
    )
    assert [r.backend for r in report.results] == ["fake2", "fake"]
    assert tracker.finished() == [1, 0]  # fake finished first, yet is listed second
    assert [r.model for r in report.results] == ["other-default", "fake-default"]
    data = report.to_dict()
    assert data["backends"] == ["fake2", "fake"]
    assert data["prompt"] == "same question"
    assert all(r["output"] == "echo: same question" for r in data["results"])


def test_compare_sequential_runs_one_at_a_time(world: FakeWorld) -> None:
    tracker = Tracker()
    asyncio.run(
        run_compare("q", ["fake", "fake2"], sequential=True, **deps(world), **tracker.hooks())
    )
    assert tracker.log == [("start", 0), ("done", 0), ("start", 1), ("done", 1)]


def test_compare_reports_unknown_backends_and_runs_the_rest(world: FakeWorld) -> None:
    report = asyncio.run(run_compare("q", ["nope", "fake", "fake"], **deps(world)))
    assert [r.backend for r in report.results] == ["nope", "fake"]  # duplicates dropped
    assert report.results[0].error_code == "unknown_backend"
    assert report.results[1].ok


def test_compare_applies_workdir_and_model(world: FakeWorld) -> None:
    elsewhere = world.root / "elsewhere"
    elsewhere.mkdir()
    report = asyncio.run(
        run_compare("q", ["fake", "fake2"], model="best", **deps(world, workdir=str(elsewhere)))
    )
    assert {c["cwd"] for c in world.calls()} == {str(elsewhere.resolve())}
    assert [r.model for r in report.results] == ["fake-max", "fake-max"]


def test_compare_needs_backends(world: FakeWorld) -> None:
    with pytest.raises(UsageError, match="no backends to compare"):
        asyncio.run(run_compare("q", [" "], **deps(world)))
