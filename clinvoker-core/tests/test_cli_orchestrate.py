"""``clinvk parallel | chain | compare`` over the fake backend CLI (real subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from clinvoker.cli.app import cli
from clinvoker.plugins import reset_host
from support.core_fakes import fake_host, install_fake_cli, pid_alive, read_log

TESTS = Path(__file__).parent


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.log = root / "calls.jsonl"

    def calls(self) -> list[dict[str, Any]]:
        return read_log(self.log)

    def prompts(self) -> list[str]:
        """The prompts the fake CLI was run with (not the ephemeral clean-up calls)."""
        return [c["argv"][-1] for c in self.calls() if "--delete-session" not in c["argv"]]

    def file(self, name: str, text: str) -> str:
        path = self.root / name
        path.write_text(textwrap.dedent(text))
        return str(path)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    world = World(tmp_path)
    for var in list(os.environ):
        if var.startswith(("CLINVK_", "FAKE_CLI")):
            monkeypatch.delenv(var)
    install_fake_cli(world.bin)
    monkeypatch.setenv("PATH", f"{world.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CLINVK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLINVK_BACKEND", "fake")
    monkeypatch.setenv("FAKE_CLI_LOG", str(world.log))
    monkeypatch.chdir(tmp_path)
    reset_host(fake_host())
    yield world
    reset_host(None)


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


THREE = """\
    tasks:
      - {backend: fake, prompt: first, name: one}
      - {backend: fake2, prompt: second, id: two}
      - {prompt: third}
    """


# -- parallel ----------------------------------------------------------------------------------


def test_parallel_json_reports_every_task_in_order(world: World) -> None:
    result = invoke("parallel", "-f", world.file("t.yaml", THREE), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["total_tasks"], report["completed"], report["failed"]) == (3, 3, 0)
    assert [r["output"] for r in report["results"]] == [
        "echo: first",
        "echo: second",
        "echo: third",
    ]
    assert [r["backend"] for r in report["results"]] == ["fake", "fake2", "fake"]
    assert sorted(world.prompts()) == ["first", "second", "third"]
    runs = [c for c in world.calls() if "--delete-session" not in c["argv"]]
    assert all("--ephemeral" in c["argv"] for c in runs)


def test_parallel_text_prints_each_answer_and_a_table(world: World) -> None:
    result = invoke("parallel", "-f", world.file("t.yaml", THREE))
    out = result.stdout
    assert out.startswith("Running 3 tasks (max 3 parallel)...\n\n")
    assert "[1] echo: first\n" in out
    assert "Results:" in out
    assert "Total: 3 tasks, 3 completed, 0 failed" in out
    assert "\x1b[" not in out + result.stderr


def test_parallel_quiet_prints_only_the_table(world: World) -> None:
    out = invoke("parallel", "-q", "-f", world.file("t.yaml", THREE)).stdout
    assert out.startswith("\nResults:")
    assert "echo: first" not in out


def test_parallel_reads_json_from_stdin(world: World) -> None:
    tasks = json.dumps([{"backend": "fake", "prompt": "from stdin"}])
    result = invoke("parallel", "--json", stdin=tasks)
    assert json.loads(result.stdout)["results"][0]["output"] == "echo: from stdin"


def test_a_failed_task_makes_the_exit_code_1(world: World) -> None:
    tasks = world.file(
        "t.yaml",
        """\
        tasks:
          - {prompt: fine}
          - {prompt: broken, extra: [--exit-code, "9"]}
        """,
    )
    result = invoke("parallel", "-f", tasks)
    assert result.exit_code == 1
    assert "Error [2]: fake exited with code 9" in result.stdout
    assert "     Error: fake exited with code 9" in result.stdout
    assert result.stderr == "Error: 1 task(s) failed\n"


def test_fail_fast_stops_the_other_tasks(world: World, tmp_path: Path) -> None:
    tasks = world.file(
        "t.json",
        json.dumps(
            {
                "tasks": [
                    {"prompt": "hangs", "extra": ["--hang", "--pidfile", str(tmp_path / "pid")]},
                    {"prompt": "fails", "extra": ["--exit-code", "2"]},
                ],
                "max_parallel": 2,
            }
        ),
    )
    started = time.monotonic()
    result = invoke("parallel", "-f", tasks, "--fail-fast", "--json")
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [r["status"] for r in report["results"]] == ["cancelled", "failed"]
    assert not pid_alive(int((tmp_path / "pid").read_text()))


def test_output_dir_gets_a_summary_and_one_file_per_task(world: World, tmp_path: Path) -> None:
    out_dir = tmp_path / "results"
    result = invoke("parallel", "-f", world.file("t.yaml", THREE), "-q", "-o", str(out_dir))
    assert result.exit_code == 0
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["001_one.json", "002_two.json", "003_task-3.json", "summary.json"]
    saved = json.loads((out_dir / "002_two.json").read_text())
    assert saved["task"]["prompt"] == "second"
    assert saved["result"]["output"] == "echo: second"


def test_parallel_dry_run_shows_the_commands_and_runs_nothing(world: World) -> None:
    result = invoke("parallel", "--dry-run", "-f", world.file("t.yaml", THREE))
    assert result.exit_code == 0
    assert result.stdout.count("Would execute: ") == 3
    assert world.calls() == []


def test_a_malformed_task_file_is_one_line_exit_2(world: World) -> None:
    path = world.file("t.yaml", "tasks:\n  - prompt: a\n  - prompt: [b]\n")
    result = invoke("parallel", "-f", path)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}:3: tasks[1].prompt: expected a string, got a list\n"
    assert world.calls() == []


def test_an_empty_task_list_is_a_usage_error(world: World) -> None:
    result = invoke("parallel", "-f", world.file("t.json", '{"tasks": []}'))
    assert result.exit_code == 2
    assert "no tasks" in result.stderr


# -- chain -------------------------------------------------------------------------------------

CHAIN = """\
    steps:
      - {prompt: alpha, name: first}
      - {prompt: "beta <{{previous}}>", backend: fake2}
      - {prompt: "gamma <{{previous}}>", name: last}
    """


def test_chain_passes_each_answer_on(world: World) -> None:
    result = invoke("chain", "-f", world.file("c.yaml", CHAIN), "--json")
    assert result.exit_code == 0, result.output
    assert world.prompts() == ["alpha", "beta <echo: alpha>", "gamma <echo: beta <echo: alpha>>"]
    report = json.loads(result.stdout)
    assert report["completed_steps"] == 3
    assert [r["step"] for r in report["results"]] == [1, 2, 3]


def test_chain_text_shows_steps_and_a_summary(world: World) -> None:
    out = invoke("chain", "-f", world.file("c.yaml", CHAIN)).stdout
    assert out.startswith("Executing chain with 3 steps\n")
    assert "[2/3] Step 2 (fake2)" in out
    assert "CHAIN EXECUTION SUMMARY" in out
    assert "Total: 3/3 steps completed" in out


def test_chain_stops_at_the_first_failure(world: World) -> None:
    steps = world.file(
        "c.yaml",
        """\
        steps:
          - {prompt: one}
          - {prompt: two, extra: [--exit-code, "4"]}
          - {prompt: three}
        """,
    )
    result = invoke("chain", "-f", steps, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed_step"] == 2
    assert world.prompts() == ["one", "two"]
    assert result.stderr == "Error: chain failed at step 2\n"


def test_input_is_a_deprecated_alias_of_file(world: World) -> None:
    result = invoke("chain", "--input", world.file("c.yaml", CHAIN), "--json")
    assert result.exit_code == 0
    assert "deprecated" in result.stderr


def test_session_placeholder_without_persisted_sessions_is_refused(world: World) -> None:
    path = world.file("c.yaml", "steps:\n  - {prompt: a}\n  - {prompt: 'b {{session}}'}\n")
    result = invoke("chain", "-f", path)
    assert result.exit_code == 2
    assert "{{session}}" in result.stderr


# -- compare -----------------------------------------------------------------------------------


def test_compare_runs_the_prompt_on_each_backend(world: World) -> None:
    result = invoke("compare", "-b", "fake", "-b", "fake2", "--json", "which is best?")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["backends"] == ["fake", "fake2"]
    assert [r["output"] for r in report["results"]] == ["echo: which is best?"] * 2
    assert world.prompts() == ["which is best?"] * 2


def test_compare_all_backends_text_has_a_summary(world: World) -> None:
    result = invoke("compare", "--all-backends", "--sequential", "hi")
    out = result.stdout
    assert out.startswith("Comparing 2 backends: fake, fake2\n")
    assert "[fake] echo: hi" in out
    assert "COMPARISON SUMMARY" in out
    assert "fake2        OK" in out


def test_compare_needs_backends(world: World) -> None:
    result = invoke("compare", "hi")
    assert result.exit_code == 2
    assert "--all-backends" in result.stderr


def test_compare_unknown_backend_exits_2(world: World) -> None:
    result = invoke("compare", "--backends", "fake,nope", "hi")
    assert result.exit_code == 2
    assert "installed: fake, fake2" in result.stderr


def test_compare_skips_backends_whose_cli_is_missing(world: World) -> None:
    (world.bin / "fake-cli").unlink()
    result = invoke("compare", "--all-backends", "hi")
    assert result.exit_code == 4
    assert "Warning: backend 'fake' is not installed, skipping" in result.stderr


# -- Ctrl-C ------------------------------------------------------------------------------------

LAUNCHER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from support.core_fakes import fake_host
    from clinvoker.plugins import reset_host
    reset_host(fake_host())
    from clinvoker.cli.main import main
    main(sys.argv[1:])
    """
)


def test_ctrl_c_stops_every_task_and_exits_130(world: World, tmp_path: Path) -> None:
    pids = [tmp_path / f"pid{i}" for i in range(3)]
    spec = {
        "tasks": [
            {"prompt": f"t{i}", "extra": ["--hang", "--pidfile", str(p)]}
            for i, p in enumerate(pids)
        ]
    }
    tasks = world.file("t.json", json.dumps(spec))
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER.format(tests=str(TESTS)), "parallel", "-f", tasks],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in pids):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the tasks never started"
        time.sleep(0.02)
    children = [int(p.read_text()) for p in pids]
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [pid for pid in children if pid_alive(pid)] == []
