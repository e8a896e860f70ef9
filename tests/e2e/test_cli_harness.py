"""The harness itself: each real CLI, run directly with ``cli_env``, completes against the fake.

If these fail, the clinvoker-level tests cannot pass either: the CLI's request or the fake's
answer changed (e.g. a new pinned CLI version), not clinvoker.
"""

from __future__ import annotations

import json

import pytest
from support.clis import TEST_MODELS, CliEnvFactory, run_process
from support.fake_model_api import FakeModelAPI

pytestmark = pytest.mark.realcli

HELLO = "Hello from fake model"

ARGV = {
    "claude": ["claude", "-p", "say hi", "--model", TEST_MODELS["claude"], "--output-format"],
    "codex": ["codex", "exec", "--skip-git-repo-check", "-m", TEST_MODELS["codex"]],
    "gemini": ["gemini", "-p", "say hi", "-m", TEST_MODELS["gemini"], "--skip-trust", "-o"],
}


def answer_of(backend: str, output: str, stdout: str) -> str:
    """The reply text from a CLI's stdout in one of its output formats."""
    if output == "text":
        return stdout.strip()
    if output == "json" and backend != "codex":
        data = json.loads(stdout)
        return str(data["result"] if backend == "claude" else data["response"])
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    if backend == "claude":
        return str(events[-1]["result"])
    if backend == "codex":
        return "".join(e["item"]["text"] for e in events if e["type"] == "item.completed")
    return "".join(e["content"] for e in events if e.get("role") == "assistant")


def argv_for(backend: str, output: str) -> list[str]:
    argv = list(ARGV[backend])
    if backend == "codex":
        return [*argv, *(["--json"] if output == "json" else []), "say hi"]
    argv.append(output)
    return [*argv, "--verbose"] if backend == "claude" and output == "stream-json" else argv


@pytest.mark.parametrize(
    ("backend", "output"),
    [
        ("claude", "text"),
        ("claude", "json"),
        ("claude", "stream-json"),
        ("codex", "text"),
        ("codex", "json"),
        ("gemini", "text"),
        ("gemini", "json"),
        ("gemini", "stream-json"),
    ],
)
def test_cli_answers_from_the_fake(
    backend: str, output: str, cli_env: CliEnvFactory, fake_api: FakeModelAPI
) -> None:
    env = cli_env(backend)

    rc, out, err = run_process(argv_for(backend, output), env, cwd=env.workdir, timeout=60)

    assert rc == 0, err
    assert answer_of(backend, output, out) == HELLO
    [call] = fake_api.model_calls()
    assert call.model == TEST_MODELS[backend]
    assert call.stream is True
    assert call.last_user_text == "say hi"


def test_gemini_default_model_routes_through_a_json_schema_call(
    cli_env: CliEnvFactory, fake_api: FakeModelAPI
) -> None:
    env = cli_env("gemini")

    rc, out, err = run_process(
        ["gemini", "-p", "say hi", "--skip-trust", "-o", "json"], env, cwd=env.workdir
    )

    assert rc == 0, err
    assert json.loads(out)["response"] == HELLO
    router, main = fake_api.model_calls()
    assert router.endpoint == "generateContent"
    assert main.endpoint == "streamGenerateContent"


@pytest.mark.parametrize("backend", ["claude", "codex", "gemini"])
def test_each_cli_uses_its_own_home(backend: str, cli_env: CliEnvFactory) -> None:
    env = cli_env(backend)

    rc, _, err = run_process(argv_for(backend, "json"), env, cwd=env.workdir, timeout=60)

    assert rc == 0, err
    state = {
        "claude": env.home / ".claude",
        "codex": env.codex_home / "sessions",
        "gemini": env.home / ".gemini" / "tmp",
    }
    assert any(state[backend].rglob("*.jsonl")), f"no session file under {state[backend]}"
