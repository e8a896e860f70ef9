"""``clinvk parallel | chain | compare`` as real subprocesses over the real CLIs, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from support.clis import TEST_MODELS, CliEnvFactory, ClinvkRunner, clinvk_executable
from support.fake_model_api import FakeModelAPI

pytestmark = pytest.mark.realcli

HELLO = "Hello from fake model"
BACKENDS = ("claude", "codex", "gemini")


def task(backend: str, prompt: str, **extra: object) -> dict[str, object]:
    return {"backend": backend, "model": TEST_MODELS[backend], "prompt": prompt, **extra}


def test_parallel_runs_three_tasks_on_three_backends(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI, tmp_path: Path
) -> None:
    env = cli_env("all")
    spec = {"tasks": [task(b, f"task for {b}", name=b) for b in BACKENDS]}
    (tmp_path / "tasks.json").write_text(json.dumps(spec))

    rc, out, err = clinvk(
        ["parallel", "-f", str(tmp_path / "tasks.json"), "--json", "-o", str(tmp_path / "out")],
        env,
        timeout=120,
    )

    assert rc == 0, err
    summary = json.loads(out)
    assert summary["total_tasks"] == 3
    assert summary["completed"] == 3
    assert summary["failed"] == 0
    assert [r["backend"] for r in summary["results"]] == list(BACKENDS)
    assert all(r["output"] == HELLO and r["exit_code"] == 0 for r in summary["results"])
    assert sorted(c.last_user_text for c in fake_api.model_calls()) == sorted(
        f"task for {b}" for b in BACKENDS
    )
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["001_claude.json", "002_codex.json", "003_gemini.json", "summary.json"]
    assert clinvk(["sessions", "list"], env).stdout == "No sessions found.\n"


def test_parallel_text_output_has_a_results_table(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    env = cli_env("codex")
    tasks = "tasks:\n" + "".join(
        f"  - {{backend: codex, model: {TEST_MODELS['codex']}, prompt: p{i}}}\n" for i in range(2)
    )
    (tmp_path / "tasks.yaml").write_text(tasks)

    rc, out, err = clinvk(["parallel", "-f", str(tmp_path / "tasks.yaml")], env, timeout=120)

    assert rc == 0, err
    assert "Total: 2 tasks, 2 completed, 0 failed" in out
    assert "\x1b[" not in out + err, "piped output must carry no terminal escapes"


def test_a_malformed_task_file_is_one_located_line(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    env = cli_env("codex")
    (tmp_path / "tasks.yaml").write_text(
        "tasks:\n  - backend: codex\n    prompt: a\n  - backend: 7\n    prompt: b\n"
    )
    rc, out, err = clinvk(["parallel", "-f", str(tmp_path / "tasks.yaml")], env)
    assert rc == 2
    assert out == ""
    assert (
        err
        == f"Error: {tmp_path / 'tasks.yaml'}:4: tasks[1].backend: expected a string, got an integer\n"
    )


def test_chain_feeds_each_answer_to_the_next_step(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI, tmp_path: Path
) -> None:
    env = cli_env("all", mode="echo")
    steps = [
        {**task("claude", "alpha"), "name": "first"},
        {**task("codex", "beta <{{previous}}>"), "name": "second"},
        {**task("gemini", "gamma <{{previous}}>"), "name": "third"},
    ]
    (tmp_path / "chain.json").write_text(json.dumps({"steps": steps}))

    rc, out, err = clinvk(["chain", "-f", str(tmp_path / "chain.json"), "--json"], env, timeout=120)

    assert rc == 0, err
    summary = json.loads(out)
    assert summary["total_steps"] == 3
    assert summary["completed_steps"] == 3
    calls = fake_api.model_calls()
    assert [c.last_user_text for c in calls] == [
        "alpha",
        "beta <Echo: alpha>",
        "gamma <Echo: beta <Echo: alpha>>",
    ]
    assert summary["results"][2]["output"] == "Echo: gamma <Echo: beta <Echo: alpha>>"


def test_chain_stops_at_the_first_failing_step(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI, tmp_path: Path
) -> None:
    env = cli_env("codex", mode="500")
    steps = [task("codex", "one"), task("codex", "two {{previous}}")]
    (tmp_path / "chain.json").write_text(json.dumps({"steps": steps}))
    rc, out, _err = clinvk(["chain", "-f", str(tmp_path / "chain.json"), "--json"], env)
    assert rc == 1
    summary = json.loads(out)
    assert summary["failed_step"] == 1
    assert len(fake_api.model_calls()) == 1


def test_compare_runs_every_backend(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI
) -> None:
    env = cli_env("all")
    rc, out, err = clinvk(["compare", "--all-backends", "--json", "what is 2+2?"], env, timeout=120)
    assert rc == 0, err
    data = json.loads(out)
    assert data["prompt"] == "what is 2+2?"
    assert data["backends"] == list(BACKENDS)
    assert [r["backend"] for r in data["results"]] == list(BACKENDS)
    assert all(r["output"] == HELLO for r in data["results"])
    assert len(fake_api.model_calls()) >= 3


def _marked_pids(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker`` (clinvk and everything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def test_ctrl_c_during_parallel_stops_every_cli_and_exits_130(
    cli_env: CliEnvFactory, fake_api: FakeModelAPI, tmp_path: Path
) -> None:
    env = cli_env("all", mode="slow60")
    marker = f"CLINVK_TEST_MARKER={uuid.uuid4().hex}"
    env[marker.split("=")[0]] = marker.split("=")[1]
    spec = {"tasks": [task(b, f"slow {b}") for b in BACKENDS]}
    (tmp_path / "tasks.json").write_text(json.dumps(spec))
    proc = subprocess.Popen(
        [str(clinvk_executable()), "parallel", "-f", str(tmp_path / "tasks.json"), "--json"],
        env=env,
        cwd=env.workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        fake_api.wait_for(lambda log: sum(r.is_model_call for r in log) >= 3, timeout=90)
        assert len(_marked_pids(marker)) > 1, "the CLIs should be running now"
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 20
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    deadline = time.monotonic() + 5
    while _marked_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked_pids(marker) == []
