"""clinvoker driving the real, pinned claude / codex / gemini CLIs against the fake model API.

Each test runs one CLI in its own HOME/TMPDIR (``cli_env``) and checks what a user would see —
the answer, the backend's session id, per-turn usage, errors — and what the model provider saw
(``fake_api``): e.g. that a resumed turn really sent the first turn's history.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from clinvoker.events import (
    Done,
    Event,
    SessionStarted,
    TextDelta,
    ToolResult,
    ToolUse,
    UsageReport,
)
from clinvoker.result import Result, Usage
from support.clis import PINNED_PACKAGES, TEST_MODELS, CliEnv, CliEnvFactory, path_without
from support.fake_model_api import FakeModelAPI

if TYPE_CHECKING:
    from typing import Unpack

    from clinvoker.api import RunOptions

pytestmark = pytest.mark.realcli

BACKENDS = ["claude", "codex", "gemini"]
HELLO = "Hello from fake model"

EXPECTED_USAGE = {
    # Anthropic's input_tokens excludes the cache: clinvoker's input = 11 + 3 read + 2 written.
    "claude": Usage(input_tokens=16, output_tokens=7, cached_tokens=3, cache_write_tokens=2),
    "codex": Usage(input_tokens=11, output_tokens=7, cached_tokens=3, cache_write_tokens=2),
    # Gemini reports no cache writes.
    "gemini": Usage(input_tokens=11, output_tokens=7, cached_tokens=3),
}
"""One turn's usage as each backend maps the fake's 11 in / 7 out / 3 cache read / 2 cache write."""

CLI_EXIT_ON_401 = {"claude": 1, "codex": 1, "gemini": 401 % 256}
"""Gemini exits with the HTTP status mod 256."""

SESSION_HEADER = {"claude": "x-claude-code-session-id", "codex": "session-id"}
"""Request headers that carry the CLI's own session id (Gemini sends none)."""

AUTH_WORDS = re.compile(r"(?i)api key|unauthori[sz]ed|unauthenticated")
"""How each CLI words a 401 (claude: "Invalid API key", codex: "401 Unauthorized", gemini:
"UNAUTHENTICATED")."""

UseEnv = Callable[[dict[str, str]], None]


def npm_package(backend: str) -> str:
    """``@openai/codex`` for ``codex``: what the install hint must name."""
    return PINNED_PACKAGES[backend].rsplit("@", 1)[0]


@pytest.fixture
def env_for(cli_env: CliEnvFactory, use_env: UseEnv) -> Callable[..., CliEnv]:
    """``env_for(backend, mode)``: an isolated env for ``backend``, also made the process env."""

    def make(backend: str, mode: str = "ok") -> CliEnv:
        env = cli_env(backend, mode)
        use_env(env)
        return env

    return make


def run(name: str, prompt: str, cli: CliEnv, **options: Unpack[RunOptions]) -> Result:
    """``clinvoker.api.run`` on backend ``name`` with its test model, in ``cli``'s work dir."""
    from clinvoker import api

    options.setdefault("model", TEST_MODELS[name])
    options["backend"], options["workdir"] = name, cli.workdir
    return asyncio.run(api.run(prompt, **options))


def collect(backend: str, prompt: str, env: CliEnv) -> list[Event]:
    """All events of ``clinvoker.api.stream``."""
    from clinvoker import api

    async def gather() -> list[Event]:
        stream = api.stream(
            prompt, backend=backend, model=TEST_MODELS[backend], workdir=str(env.workdir)
        )
        return [event async for event in stream]

    return asyncio.run(gather())


# -- new conversations ------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["stream", "json", "text"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_new_run_returns_the_answer_and_the_backend_session(
    backend: str, output: str, env_for: Callable[..., CliEnv], fake_api: FakeModelAPI
) -> None:
    env = env_for(backend)

    result = run(backend, "say hi", env, output=output)

    assert result.ok, result.error
    assert result.content == HELLO
    assert result.session_id
    [call] = fake_api.model_calls()
    assert call.model == TEST_MODELS[backend]
    if backend in SESSION_HEADER:
        assert call.headers[SESSION_HEADER[backend]] == result.session_id
    if output != "text":
        assert result.usage == EXPECTED_USAGE[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_yields_deltas_usage_and_one_final_done(
    backend: str, env_for: Callable[..., CliEnv]
) -> None:
    env = env_for(backend)

    events = collect(backend, "say hi", env)

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[-1], Done)
    assert sum(isinstance(e, Done) for e in events) == 1
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == HELLO
    started = [e for e in events if isinstance(e, SessionStarted)]
    assert started
    assert started[0].session_id == events[-1].result.session_id
    assert any(isinstance(e, UsageReport) for e in events)
    assert events[-1].result.content == HELLO


@pytest.mark.parametrize("backend", BACKENDS)
def test_tool_call_is_streamed_as_tool_use_and_result(
    backend: str, env_for: Callable[..., CliEnv], fake_api: FakeModelAPI
) -> None:
    env = env_for(backend, "tool")

    events = collect(backend, "run a command", env)

    uses = [e for e in events if isinstance(e, ToolUse)]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert uses, f"no tool_use event in {events}"
    assert [r.id for r in results] == [u.id for u in uses]
    assert not any(r.is_error for r in results)
    if backend != "gemini":  # gemini's default mode only offers read-only tools (list_directory)
        assert "tool-ran" in results[0].output
    done = events[-1]
    assert isinstance(done, Done)
    assert done.result.content == HELLO
    assert fake_api.model_calls()[-1].n_messages > fake_api.model_calls()[0].n_messages


# -- resume -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_resume_by_id_continues_the_same_conversation(
    backend: str, env_for: Callable[..., CliEnv], fake_api: FakeModelAPI
) -> None:
    env = env_for(backend, "echo")
    first = run(backend, "first question", env)
    assert first.ok, first.error
    assert first.clinvk_session_id

    second = run(backend, "second question", env, resume=first.clinvk_session_id)

    assert second.ok, second.error
    assert second.content == "Echo: second question"
    assert second.session_id == first.session_id
    resumed = fake_api.model_calls()[-1]
    history = "\n".join(resumed.texts)
    assert "first question" in history
    assert "Echo: first question" in history
    assert resumed.last_user_text == "second question"
    assert second.usage == EXPECTED_USAGE[backend], "usage must be this turn's, not cumulative"


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_http_401_is_reported_as_an_authentication_error(
    backend: str, env_for: Callable[..., CliEnv]
) -> None:
    env = env_for(backend, "401")

    result = run(backend, "say hi", env)

    assert not result.ok
    assert result.exit_code != 0
    assert result.error_code == "authentication_failed"
    assert result.error
    assert AUTH_WORDS.search(result.error), result.error
    assert "\n" not in result.error.strip()


@pytest.mark.parametrize("backend", BACKENDS)
def test_http_500_fails_fast_without_retry_storms(
    backend: str, env_for: Callable[..., CliEnv], fake_api: FakeModelAPI
) -> None:
    env = env_for(backend, "500")

    started = time.monotonic()
    result = run(backend, "say hi", env)
    elapsed = time.monotonic() - started

    assert not result.ok
    assert result.error_code == "server_error"
    assert elapsed < 15, f"took {elapsed:.1f} s: the CLI kept retrying"
    assert 1 <= len(fake_api.model_calls()) <= 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_model_is_reported_as_model_not_found(
    backend: str, env_for: Callable[..., CliEnv]
) -> None:
    env = env_for(backend)
    model = f"{backend}-nonexistent-9"

    result = run(backend, "say hi", env, model=model)

    assert not result.ok
    assert result.error_code == "model_not_found"
    assert result.error
    assert model in result.error


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_cli_is_one_clear_error_naming_what_to_install(
    backend: str, env_for: Callable[..., CliEnv], use_env: UseEnv
) -> None:
    from clinvoker.errors import BackendUnavailable

    env = env_for(backend)
    use_env({**env, "PATH": path_without(backend, path=env["PATH"])})

    with pytest.raises(BackendUnavailable) as caught:
        run(backend, "say hi", env)

    assert f"npm install -g {npm_package(backend)}" in str(caught.value)
    assert "\n" not in str(caught.value)


# -- the clinvk command -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_clinvk_json_output(
    backend: str, cli_env: CliEnvFactory, clinvk: Callable[..., tuple[int, str, str]]
) -> None:
    env = cli_env(backend)

    rc, out, err = clinvk(["-b", backend, "-m", TEST_MODELS[backend], "-o", "json", "say hi"], env)

    assert rc == 0, err
    data = json.loads(out)
    assert data["backend"] == backend
    assert data["content"] == HELLO
    assert data["session_id"]
    assert data["exit_code"] == 0
    assert data["usage"]["output_tokens"] == 7


@pytest.mark.parametrize("backend", BACKENDS)
def test_clinvk_text_output_then_resume_last(
    backend: str,
    cli_env: CliEnvFactory,
    clinvk: Callable[..., tuple[int, str, str]],
    fake_api: FakeModelAPI,
) -> None:
    env = cli_env(backend, "echo")
    model = ["-b", backend, "-m", TEST_MODELS[backend]]

    rc1, out1, err1 = clinvk([*model, "-o", "text", "first question"], env)
    rc2, out2, err2 = clinvk(["resume", "--last", *model, "-o", "text", "second question"], env)

    assert (rc1, out1) == (0, "Echo: first question\n"), err1
    assert (rc2, out2) == (0, "Echo: second question\n"), err2
    assert "Echo: first question" in "\n".join(fake_api.model_calls()[-1].texts)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clinvk_stream_json_ends_with_done(
    backend: str, cli_env: CliEnvFactory, clinvk: Callable[..., tuple[int, str, str]]
) -> None:
    env = cli_env(backend)

    rc, out, err = clinvk(
        ["-b", backend, "-m", TEST_MODELS[backend], "-o", "stream-json", "say hi"], env
    )

    assert rc == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert "".join(e["text"] for e in events if e["type"] == "text_delta") == HELLO
    assert events[-1]["type"] == "done"


@pytest.mark.parametrize("backend", BACKENDS)
def test_clinvk_reports_auth_failure_on_stderr(
    backend: str, cli_env: CliEnvFactory, clinvk: Callable[..., tuple[int, str, str]]
) -> None:
    env = cli_env(backend, "401")

    rc, out, err = clinvk(["-b", backend, "-m", TEST_MODELS[backend], "-o", "text", "say hi"], env)

    assert rc == CLI_EXIT_ON_401[backend], "clinvk passes the backend's exit code through"
    assert out == ""
    [line] = [x for x in err.splitlines() if x.startswith(f"Error [{backend}]: ")]
    assert AUTH_WORDS.search(line), err
    assert "Traceback" not in err


@pytest.mark.parametrize("backend", BACKENDS)
def test_clinvk_with_the_cli_missing_exits_4_with_one_line(
    backend: str, cli_env: CliEnvFactory, clinvk: Callable[..., tuple[int, str, str]]
) -> None:
    env = cli_env(backend)
    env["PATH"] = path_without(backend, path=env["PATH"])

    rc, out, err = clinvk(["-b", backend, "-o", "json", "say hi"], env)

    assert rc == 4
    assert out == ""
    [line] = err.strip().splitlines()
    assert f"npm install -g {npm_package(backend)}" in line
