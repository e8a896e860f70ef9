"""Conversations across ``clinvk`` processes: resume by prefix and ``--last``, scoped auto-resume."""

from __future__ import annotations

import json

import pytest
from support.clis import TEST_MODELS, CliEnv, CliEnvFactory, ClinvkRunner
from support.fake_model_api import FakeModelAPI

pytestmark = pytest.mark.realcli


def first_turn(clinvk: ClinvkRunner, env: CliEnv, backend: str, prompt: str = "one") -> dict:  # type: ignore[type-arg]
    rc, out, err = clinvk(
        ["-b", backend, "-m", TEST_MODELS[backend], "-o", "json", "--new", prompt], env
    )
    assert rc == 0, err
    data: dict = json.loads(out)  # type: ignore[type-arg]
    return data


@pytest.mark.parametrize("backend", ["claude", "codex", "gemini"])
def test_resume_by_prefix_continues_the_conversation(
    backend: str, cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI
) -> None:
    env = cli_env(backend)
    first = first_turn(clinvk, env, backend)
    prefix = first["clinvk_session_id"][:6]

    rc, out, err = clinvk(["resume", prefix, "-o", "json", "two"], env)

    assert rc == 0, err
    second = json.loads(out)
    assert second["clinvk_session_id"] == first["clinvk_session_id"]
    assert second["session_id"] == first["session_id"]
    last = fake_api.model_calls()[-1]
    assert last.last_user_text == "two"
    history = last.texts[:-1]
    assert any(text.endswith("one") for text in history), "the first prompt must be resent"
    assert "Hello from fake model" in history, "the first answer must be resent"
    shown = json.loads(clinvk(["sessions", "show", prefix, "--json"], env).stdout)
    assert shown["turn_count"] == 2


def test_resume_last_picks_the_newest_session(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, fake_api: FakeModelAPI
) -> None:
    env = cli_env("all")
    first_turn(clinvk, env, "claude", "older")
    newest = first_turn(clinvk, env, "codex", "newer")

    rc, out, err = clinvk(["resume", "--last", "-o", "json", "again"], env)

    assert rc == 0, err
    data = json.loads(out)
    assert data["clinvk_session_id"] == newest["clinvk_session_id"]
    assert data["backend"] == "codex"


def test_resume_of_an_unknown_id_exits_5(cli_env: CliEnvFactory, clinvk: ClinvkRunner) -> None:
    env = cli_env("claude")
    rc, _, err = clinvk(["resume", "abcdef12", "hello"], env)
    assert rc == 5
    assert err.startswith("Error: ")


def test_auto_resume_is_scoped_to_backend_and_directory(
    cli_env: CliEnvFactory, clinvk: ClinvkRunner, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = cli_env("all")
    model = ["-m", TEST_MODELS["claude"]]
    first = first_turn(clinvk, env, "claude")

    rc, out, err = clinvk(["-b", "claude", *model, "-o", "json", "and again"], env)
    assert rc == 0, err
    assert json.loads(out)["clinvk_session_id"] == first["clinvk_session_id"]
    assert err.startswith(f"continuing session {first['clinvk_session_id'][:8]} (claude) from ")
    assert "use --new to start fresh" in err

    other_dir = tmp_path_factory.mktemp("elsewhere")
    rc, out, err = clinvk(["-b", "claude", *model, "-o", "json", "hi"], env, cwd=other_dir)
    assert json.loads(out)["clinvk_session_id"] != first["clinvk_session_id"]
    assert "continuing" not in err

    rc, out, err = clinvk(["-b", "codex", "-m", TEST_MODELS["codex"], "-o", "json", "hi"], env)
    assert json.loads(out)["clinvk_session_id"] != first["clinvk_session_id"]

    rc, out, err = clinvk(["-b", "claude", *model, "-o", "json", "--new", "fresh"], env)
    assert json.loads(out)["clinvk_session_id"] != first["clinvk_session_id"]
    assert "continuing" not in err


def test_ephemeral_runs_leave_no_session(cli_env: CliEnvFactory, clinvk: ClinvkRunner) -> None:
    env = cli_env("codex")
    rc, out, err = clinvk(
        ["-b", "codex", "-m", TEST_MODELS["codex"], "-o", "json", "--ephemeral", "hi"], env
    )
    assert rc == 0, err
    assert json.loads(out)["clinvk_session_id"] is None
    assert clinvk(["sessions", "list"], env).stdout == "No sessions found.\n"
