"""``clinvk --server`` as a real subprocess against a server with the stub backends.

What a user of a shared server notices: the answer streams as it is written, exit codes are
those of a local run (the backend's own, 124, 130, 2 for an unknown backend, 5 for an unknown
session), a missing/wrong key or a server that is down is one clear line, and Ctrl-C stops the
agent on the server.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.clis import ClinvkRunner

from remote.conftest import ServerProcess, alive, assert_streams, start_clinvk, wait_until

EnvFactory = Callable[..., dict[str, str]]


@pytest.fixture
def env(stub_server: ServerProcess, remote_env: EnvFactory) -> dict[str, str]:
    return remote_env(stub_server)


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_json_text_and_stream_json(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, out, err = clinvk(["-o", "json", "hello"], env, cwd=tmp_path)
    assert rc == 0, err
    data = json.loads(out)
    assert data["content"] == "You said: hello"
    assert data["backend"] == "stub"
    assert len(data["clinvk_session_id"]) == 32
    rc, out, err = clinvk(["-o", "text", "--new", "again"], env, cwd=tmp_path)
    assert (rc, out) == (0, "You said: again\n"), err
    rc, out, err = clinvk(["-o", "stream-json", "--ephemeral", "x y"], env, cwd=tmp_path)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["type"] for line in lines] == [
        "session_started",
        "text_delta",
        "text_delta",
        "text_delta",
        "usage",
        "done",
    ]
    assert lines[-1]["result"]["clinvk_session_id"] is None
    assert "continuing" not in err


def test_the_backends_exit_code_and_error_line(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, out, err = clinvk(["-o", "text", "-m", "crash", "x"], env, cwd=tmp_path)
    assert rc == 3
    assert out == "partial answer\n"
    assert err == "Error [stub]: stub crashed\n"


def test_timeout_is_exit_124(env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path) -> None:
    start = time.monotonic()
    rc, out, _ = clinvk(["-o", "json", "-m", "slow", "--timeout", "0.3", "x"], env, cwd=tmp_path)
    assert rc == 124
    assert json.loads(out)["error_code"] == "timeout"
    assert time.monotonic() - start < 5


def test_unknown_session_backend_and_usage_exit_codes(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, _, err = clinvk(["resume", "0123abcd", "hi"], env, cwd=tmp_path)
    assert rc == 5
    assert "no session matches '0123abcd'" in one_error_line(err)
    rc, _, err = clinvk(["-b", "nope", "hi"], env, cwd=tmp_path)
    assert rc == 2
    assert "unknown backend 'nope'" in one_error_line(err)
    rc, _, err = clinvk(["compare", "-b", "stub,nope", "hi"], env, cwd=tmp_path)
    assert rc == 2
    assert "unknown backend 'nope' on the server" in one_error_line(err)
    rc, _, err = clinvk(["--add-dir", str(tmp_path), "hi"], env, cwd=tmp_path)
    assert rc == 2
    assert "--add-dir is not available with --server" in one_error_line(err)


@pytest.mark.parametrize("key", ["", "sk-wrong-key"])
def test_a_missing_or_wrong_key_is_one_line(
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    clinvk: ClinvkRunner,
    tmp_path: Path,
    key: str,
) -> None:
    env = remote_env(stub_server, key=key)
    rc, out, err = clinvk(["-v", "hi"], env, cwd=tmp_path)
    assert rc == 1
    assert out == ""
    line = one_error_line(err)
    assert f"the server at {stub_server.url} refused the request" in line
    assert "CLINVK_API_KEY" in line
    if key:
        assert key not in err
    assert stub_server.stub_pids() == []


def test_the_key_is_never_printed(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, out, err = clinvk(["-v", "--debug", "-o", "stream-json", "hi"], env, cwd=tmp_path)
    assert rc == 0, err
    rc2, out2, err2 = clinvk(["-b", "nope", "--debug", "hi"], env, cwd=tmp_path)
    assert rc2 == 2
    for text in (out, err, out2, err2):
        assert env["CLINVK_API_KEY"] not in text


def test_a_server_that_is_down_is_one_line(
    stub_server: ServerProcess, remote_env: EnvFactory, clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {**remote_env(stub_server), "CLINVK_SERVER": url}
    for args in (["hi"], ["sessions", "list"], ["compare", "--all-backends", "hi"]):
        rc, out, err = clinvk(args, env, cwd=tmp_path)
        assert rc == 1
        assert out == ""
        line = one_error_line(err)
        assert f"cannot connect to the clinvoker server at {url}: connection refused" in line
        assert "clinvk serve" in line
    rc, _, err = clinvk(["--server", "ftp://x", "hi"], env, cwd=tmp_path)
    assert rc == 2
    assert "--server must be an http:// or https:// URL" in one_error_line(err)


def test_text_streams_while_the_agent_writes(env: dict[str, str], tmp_path: Path) -> None:
    assert_streams(env, tmp_path)


def test_ctrl_c_stops_the_agent_on_the_server(
    env: dict[str, str], stub_server: ServerProcess, tmp_path: Path
) -> None:
    proc = start_clinvk(["-o", "text", "-m", "hang", "x"], env, tmp_path)
    assert proc.stdout is not None
    assert proc.stdout.read1(100) == b"thinking"
    [pid] = stub_server.stub_pids()
    assert alive(pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode().strip() == "Interrupted."
    wait_until(lambda: not alive(pid), what="the server to stop the stub")


def test_sigterm_also_stops_the_agent(
    env: dict[str, str], stub_server: ServerProcess, tmp_path: Path
) -> None:
    proc = start_clinvk(["-o", "stream-json", "-m", "hang", "x"], env, tmp_path)
    assert proc.stdout is not None
    proc.stdout.readline()  # session_started
    proc.stdout.readline()  # the first text
    [pid] = stub_server.stub_pids()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    wait_until(lambda: not alive(pid), what="the server to stop the stub")


def test_continue_and_auto_resume_happen_on_the_server(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, out, err = clinvk(["-c", "-o", "json", "one"], env, cwd=tmp_path)
    assert rc == 0, err
    assert err == "no resumable session in the server's default directory; starting a new one\n"
    first = json.loads(out)["clinvk_session_id"]
    rc, out, err = clinvk(["-o", "json", "two"], env, cwd=tmp_path)
    assert rc == 0, err
    assert json.loads(out)["clinvk_session_id"] == first
    assert err.startswith(f"continuing session {first[:8]} (stub) from ")
    assert err.endswith("; use --new to start fresh\n")
    rc, out, _ = clinvk(["-o", "json", "--dry-run", "three"], env, cwd=tmp_path)
    assert json.loads(out)["continue_session"] == first
    rc, out, err = clinvk(["resume", "--last", "-o", "text", "four"], env, cwd=tmp_path)
    assert (rc, out) == (0, "You said: four\n"), err
    rc, out, _ = clinvk(["sessions", "show", first[:8], "--json"], env, cwd=tmp_path)
    assert json.loads(out)["turn_count"] == 3


def test_native_lines_are_the_agents_own(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    rc, out, err = clinvk(["-o", "stream-json", "--native", "hi"], env, cwd=tmp_path)
    assert rc == 0, err
    kinds = [json.loads(line)["type"] for line in out.splitlines()]
    assert kinds == ["init", "delta", "delta", "delta", "usage"]


def test_a_workdir_is_a_directory_on_the_server(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "not-here"
    rc, _, err = clinvk(["-w", str(missing), "hi"], env, cwd=tmp_path)
    assert rc == 2
    assert f"work directory does not exist: {missing}" in one_error_line(err)
    rc, out, err = clinvk(["-w", ".", "-o", "text", "--dry-run", "hi"], env, cwd=tmp_path)
    assert rc == 0, err
    assert out.splitlines()[-1] == f"  cwd: {tmp_path.resolve()}"


def test_sessions_commands(env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path) -> None:
    for prompt in ("a", "b", "c"):
        assert clinvk(["--new", prompt], env, cwd=tmp_path).rc == 0
    rc, out, _ = clinvk(["sessions", "list", "--json"], env, cwd=tmp_path)
    listed = json.loads(out)
    assert listed["total"] == 3
    newest = listed["sessions"][0]["id"]
    rc, out, _ = clinvk(["sessions", "list"], env, cwd=tmp_path)
    assert out.splitlines()[0].split() == [
        "ID",
        "BACKEND",
        "STATUS",
        "LAST",
        "USED",
        "TOKENS",
        "TITLE/PROMPT",
    ]
    rc, out, _ = clinvk(["sessions", "clean", "--keep", "1"], env, cwd=tmp_path)
    assert (rc, out) == (0, "Deleted 2 session(s) older than 30 days or beyond the newest 1.\n")
    rc, out, _ = clinvk(["sessions", "delete", newest[:8]], env, cwd=tmp_path)
    assert (rc, out) == (0, f"Session {newest} deleted.\n")
    rc, out, _ = clinvk(["sessions", "list"], env, cwd=tmp_path)
    assert out == "No sessions found.\n"


def test_parallel_chain_and_backends(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps({"tasks": [{"prompt": "a"}, {"prompt": "b", "model": "crash"}]}))
    rc, out, err = clinvk(["parallel", "-f", str(tasks), "--json"], env, cwd=tmp_path)
    assert rc == 1
    report = json.loads(out)
    assert [r["status"] for r in report["results"]] == ["completed", "failed"]
    assert err.endswith("Error: 1 task(s) failed\n")
    chain = tmp_path / "chain.yaml"
    chain.write_text("steps:\n  - {prompt: first}\n  - {prompt: 'then {{previous}}'}\n")
    rc, out, err = clinvk(["chain", "-f", str(chain), "--json"], env, cwd=tmp_path)
    assert rc == 0, err
    steps = json.loads(out)["results"]
    assert steps[1]["output"] == "You said: then You said: first"
    rc, out, _ = clinvk(["backends", "--json"], env, cwd=tmp_path)
    assert [b["backend"] for b in json.loads(out)["backends"]] == ["stub", "stub2"]


def test_an_empty_server_means_here(
    env: dict[str, str], clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    local = {**env, "CLINVK_HOME": str(tmp_path / "local-home")}
    rc, _, err = clinvk(["--server", "", "-b", "nope", "hi"], local, cwd=tmp_path)
    assert rc == 2
    assert "unknown backend 'nope'" in one_error_line(err)
    assert "stub" not in err  # the local backends, not the server's


def test_ctrl_c_stops_an_orchestration_on_the_server(
    env: dict[str, str], stub_server: ServerProcess, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"prompt": "a", "model": "hang"}, {"prompt": "b"}]))
    proc = start_clinvk(["parallel", "-f", str(tasks)], env, tmp_path, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("Running 2 tasks")
    lines = [proc.stdout.readline() for _ in range(2)]
    assert lines == ["\n", "[2] You said: b\n"]  # printed as soon as the server reported it
    [pid] = [p for p in stub_server.stub_pids() if alive(p)]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    wait_until(lambda: not alive(pid), what="the server to stop the hanging task")
