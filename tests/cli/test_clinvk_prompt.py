"""``clinvk PROMPT`` as a real subprocess driving the real CLIs against the fake model API."""

from __future__ import annotations

import json

import pytest
from support.clis import TEST_MODELS, CliEnvFactory, ClinvkRunner, path_without
from support.fake_model_api import FakeModelAPI

pytestmark = pytest.mark.realcli

HELLO = "Hello from fake model"
BACKENDS = ["claude", "codex", "gemini"]


def args(backend: str, *rest: str) -> list[str]:
    return ["-b", backend, "-m", TEST_MODELS[backend], *rest]


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_output_is_the_answer(
    backend: str, cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI
) -> None:
    env = cli_env(backend)
    rc, out, err = clinvk(args(backend, "-o", "text", "say hi"), env)
    assert rc == 0, err
    assert out == HELLO + "\n"
    [call] = fake_api.model_calls()
    assert call.last_user_text == "say hi"


@pytest.mark.parametrize("backend", BACKENDS)
def test_json_output_is_one_documented_object(
    backend: str, cli_env: CliEnvFactory, clinvk: ClinvkRunner
) -> None:
    env = cli_env(backend)
    rc, out, err = clinvk(args(backend, "-o", "json", "say hi"), env)
    assert rc == 0, err
    data = json.loads(out)
    assert data["backend"] == backend
    assert data["content"] == HELLO
    assert data["exit_code"] == 0
    assert data["error"] is None
    assert data["session_id"]
    assert len(data["clinvk_session_id"]) == 32
    assert data["usage"]["output_tokens"] > 0
    assert data["usage"]["total_tokens"] == (
        data["usage"]["input_tokens"] + data["usage"]["output_tokens"]
    )
    assert data["duration_seconds"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_json_is_normalized_events_in_an_envelope(
    backend: str, cli_env: CliEnvFactory, clinvk: ClinvkRunner
) -> None:
    env = cli_env(backend)
    rc, out, err = clinvk(args(backend, "-o", "stream-json", "say hi"), env)
    assert rc == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert all(e["v"] == 1 for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "session_started"
    assert "".join(e["text"] for e in events if e["type"] == "text_delta") == HELLO
    assert events[-1]["type"] == "done"
    assert events[-1]["result"]["content"] == HELLO


def test_native_stream_json_passes_the_cli_lines_through(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner
) -> None:
    env = cli_env("claude")
    rc, out, err = clinvk(args("claude", "-o", "stream-json", "--native", "say hi"), env)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["type"] == "system"
    assert lines[-1]["type"] == "result"
    assert "v" not in lines[0]


def test_prompt_from_stdin(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI
) -> None:
    env = cli_env("codex")
    rc, out, err = clinvk(args("codex", "-o", "text"), env, input="summarize this\n")
    assert rc == 0, err
    assert out == HELLO + "\n"
    assert fake_api.model_calls()[0].last_user_text.strip() == "summarize this"


def test_dry_run_prints_the_command_and_creates_no_session(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI
) -> None:
    env = cli_env("claude")
    rc, out, err = clinvk(args("claude", "-o", "text", "--dry-run", "it's fine"), env)
    assert rc == 0, err
    first, second = out.splitlines()
    assert first.startswith("Would execute: ")
    assert "claude" in first
    assert "'it'\"'\"'s fine'" in first
    assert second == f"  cwd: {env.workdir}"
    assert fake_api.model_calls() == []
    assert clinvk(["sessions", "list"], env).stdout == "No sessions found.\n"


def test_a_backend_error_is_on_stderr_and_the_exit_code_is_not_zero(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner
) -> None:
    env = cli_env("claude", mode="401")
    rc, _out, err = clinvk(args("claude", "-o", "text", "say hi"), env)
    assert rc != 0
    assert err.startswith("Error [claude]: ")
    assert "Traceback" not in err


def test_timeout_stops_the_cli_and_exits_124(cli_env: CliEnvFactory, clinvk: ClinvkRunner) -> None:
    env = cli_env("codex", mode="slow30")
    rc, _, err = clinvk(args("codex", "-o", "json", "--timeout", "3", "say hi"), env, timeout=40)
    assert rc == 124, err


def test_unknown_backend_lists_the_installed_ones(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner
) -> None:
    env = cli_env("all")
    rc, out, err = clinvk(["-b", "nope", "hi"], env)
    assert rc == 2
    assert out == ""
    assert "nope" in err
    assert "claude" in err
    assert err.count("\n") == 1


def test_missing_cli_says_what_to_install(cli_env: CliEnvFactory, clinvk: ClinvkRunner) -> None:
    env = cli_env("gemini")
    env["PATH"] = path_without("gemini", path=env["PATH"])
    rc, _, err = clinvk(["-b", "gemini", "hi"], env)
    assert rc == 4
    assert "npm install" in err
    assert err.count("\n") == 1
