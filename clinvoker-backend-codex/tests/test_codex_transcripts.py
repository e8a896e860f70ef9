"""Every recorded run of the real codex CLI, replayed: what would a user see?

For each transcript: the events in order, the final text, the thread id, the per-turn usage,
and the error message and code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from clinvoker.events import Error, ToolResult, ToolUse
from clinvoker_codex.backend import CodexBackend
from codex_transcripts import KILLED, load, names, replay_captured, replay_streamed, signature

HELLO = "Hello from fake model"
OK = ("session", "text", "message", "usage")
TOOL = (
    "session",
    "tool_use:command_execution",
    "tool_result:command_execution",
    "text",
    "message",
    "usage",
)
HIGH_DEMAND = "We’re currently experiencing high demand, which may cause temporary errors."
DISCONNECTED = "stream disconnected before completion: stream closed before response.completed"
BAD_MODEL = "The requested model 'gpt-nonexistent-9' does not exist."
UNAUTHORIZED = (
    "unexpected status 401 Unauthorized: Incorrect API key provided: sk-t***est (fake)., "
    "url: http://127.0.0.1:8765/v1/responses"
)
RATE_LIMITED = "exceeded retry limit, last status: 429 Too Many Requests"
WAITING = "Reconnecting... waiting for network (Connection failed: error sending request)"

THREAD_A = "01a209c7-a30f-7950-8df8-53e3c10e4a56"  # json_ok, then resumed four times
THREAD_B = "01a209cd-cb6e-7383-a9c2-3c5017af77ef"  # resume_setup, then resumed from elsewhere


def cumulative(thread: str, inp: int, cached: int, out: int) -> dict[str, Any]:
    """The backend_state a previous turn left: codex's running usage total for the thread."""
    return {
        "thread_id": thread,
        "cumulative_usage": {
            "input_tokens": inp,
            "cached_input_tokens": cached,
            "cache_write_input_tokens": 0,
            "output_tokens": out,
            "reasoning_output_tokens": 0,
        },
    }


@dataclass(frozen=True)
class Expect:
    """What a user sees from one run."""

    session_id: str | None
    events: tuple[str, ...] = OK
    content: str = HELLO
    usage: tuple[int, int, int] | None = (11, 7, 3)  # input (incl. cached), output, cached
    error: str | None = None
    code: str | None = None
    resume_state: dict[str, Any] = field(default_factory=dict)


def text_ok(thread: str) -> Expect:
    return Expect(thread, events=("text",), usage=None)


def failed(
    thread: str | None, message: str, code: str, events: tuple[str, ...] | None = None
) -> Expect:
    if events is None:
        events = ("session", f"error:{code}!") if thread else ()
    return Expect(thread, events=events, content="", usage=None, error=message, code=code)


def text_failed(thread: str | None, message: str, code: str) -> Expect:
    return failed(thread, message, code, events=())


CASES: dict[str, Expect] = {
    # -- the happy path, in every way codex was configured or fed ---------------------------------
    "json_ok": Expect(THREAD_A),
    "text_ok": text_ok("01a209c7-a06d-7ca3-a48e-895ac20d1a34"),
    "builtin_openai_base_url_config_json": Expect("01a209ce-6abc-7271-9aff-74478d99da0c"),
    "config_via_c_flags_json": Expect("01a209cd-c727-7911-b70b-9178ea382760"),
    "dangerous_bypass_json": Expect("01a209c7-c1ef-71a1-a758-34e9d3881f6f"),
    "ephemeral_json": Expect("01a209c7-bcac-7dd3-bef5-5b5fd1472e3a"),
    "flags_json": Expect("01a209c7-bf2e-7af0-a22f-2b5fbc654361"),
    "side_traffic_defaults_json": Expect("01a209cd-e4be-7571-88bf-9f2a17eec900"),
    "stdin_plus_arg_json": Expect("01a209c7-b9f6-7983-85fd-29a52a47997e"),
    "stdin_prompt_json": Expect("01a209c7-b55e-7813-b91b-7e5dd7e6d115"),
    "stdin_dash_text": text_ok("01a209c7-b7c5-7572-835a-b74effa86c4f"),
    "output_last_message_file": text_ok("01a209c7-a5d6-7972-a842-19280e705bf8"),
    "timing2_json_0": Expect("01a209ce-9b62-7402-9b1f-27269e7449ab"),
    "timing2_json_1": Expect("01a209ce-cf04-7490-b36d-87cc28cdaa6e"),
    "timing2_json_2": Expect("01a209cf-0508-7ee1-9c5f-0b16b8d3d928"),
    "timing2_text_0": text_ok("01a209ce-9905-71d0-9fc5-3a4c9ddcf1c4"),
    "timing2_text_1": text_ok("01a209ce-ccf6-7db1-a61b-45f8cde92949"),
    "timing2_text_2": text_ok("01a209cf-02d2-7460-a30f-af679bd8063f"),
    "timing_text_0": text_ok("01a209ca-8412-73a3-ab73-1be970451903"),
    "timing_text_1": text_ok("01a209ca-863c-7d63-8ffa-7bf10da8ad62"),
    "timing_text_2": text_ok("01a209ca-884d-7de0-8944-08e60592a7c0"),
    # -- tools: two model calls in one turn, so usage is 2x --------------------------------------
    "tool_shell_default_json": Expect(
        "01a209ca-767d-7552-a284-ce64c3a289cb", events=TOOL, usage=(22, 14, 3)
    ),
    "tool_shell_bypass_json": Expect(
        "01a209ca-7947-79c0-ac0c-9a362118a5e2", events=TOOL, usage=(22, 14, 3)
    ),
    "tmpdir_tool_json": Expect(
        "01a209d0-54ae-78d3-9c8c-615687ff55bc", events=TOOL, usage=(22, 14, 3)
    ),
    "toolw_bypass_json": Expect(
        "01a209ca-81a7-7da1-b48c-cb1e03a2bde1", events=TOOL, usage=(22, 14, 3)
    ),
    "toolw_workspace_write_json": Expect(
        "01a209ca-7ee1-7241-aaa0-6ac7e1426003", events=TOOL, usage=(22, 14, 3)
    ),
    # The read-only sandbox refused the write: codex shows no tool events at all.
    "toolw_default_json": Expect("01a209ca-7c0b-7171-a996-c3079c2fea89", usage=(22, 14, 3)),
    # -- resuming: usage is cumulative for the thread, reported per turn --------------------------
    "resume_by_id_json": Expect(THREAD_A, resume_state=cumulative(THREAD_A, 11, 3, 7)),
    "resume_by_id_text": Expect(
        THREAD_A, events=("text",), usage=None, resume_state=cumulative(THREAD_A, 22, 6, 14)
    ),
    # The turn before ran in text mode, which prints no usage: this turn's share is unknown.
    "exec_flags_before_resume_json": Expect(
        THREAD_A,
        events=("session", "text", "message", "error:usage_unknown"),
        usage=None,
        resume_state={"thread_id": THREAD_A},
    ),
    "resume_last_json": Expect(THREAD_A, resume_state=cumulative(THREAD_A, 44, 12, 28)),
    "resume_setup_json": Expect(THREAD_B),
    "resume_with_exec_flags_json": Expect(THREAD_B, resume_state=cumulative(THREAD_B, 11, 3, 7)),
    "resume_other_cwd_json": Expect(THREAD_B, resume_state=cumulative(THREAD_B, 22, 6, 14)),
    # `resume --last` from a directory with no thread silently started a new one: say so.
    "resume_last_other_cwd_json": Expect(
        "01a209cd-d273-7ba0-98e7-cb581871e26f",
        events=("session", "error:new_session", "text", "message", "usage"),
        resume_state=cumulative(THREAD_B, 33, 9, 21),
    ),
    "resume_unknown_id_json": failed(
        None,
        "codex has no saved conversation with thread id 00000000-0000-4000-8000-000000000000",
        "session_not_found",
    ),
    # -- API failures ------------------------------------------------------------------------------
    "err_401_json": failed(
        "01a209c7-c634-7791-965a-9bee71b28f2c", UNAUTHORIZED, "authentication_failed"
    ),
    "err_401_text": text_failed(
        "01a209c7-c92d-7440-a2e2-89f84607dbf3", UNAUTHORIZED, "authentication_failed"
    ),
    "err_no_api_key_json": failed(
        "01a209ca-72f2-7713-8967-e996a98a81ce",
        "Missing environment variable: `FAKE_OPENAI_API_KEY`.",
        "authentication_failed",
    ),
    "err_429_json": failed("01a209c7-cc16-7010-8c56-5b62c0427d48", RATE_LIMITED, "rate_limited"),
    "err_429_text": text_failed(
        "01a209c7-ce88-7873-8062-d4657213bb3f", RATE_LIMITED, "rate_limited"
    ),
    "err_429x2_then_ok_retries4_json": Expect(
        "01a209ca-0712-7021-8895-963777ab22af",
        events=("session", "error:rate_limited", "error:rate_limited", "text", "message", "usage"),
    ),
    "err_500_json": failed("01a209c7-d159-7292-b2da-b01d9947aab0", HIGH_DEMAND, "server_error"),
    "err_500_text": text_failed(
        "01a209c7-d44a-79e0-8a48-84c8e3a893f0", HIGH_DEMAND, "server_error"
    ),
    "err_500_retries4_json": failed(
        "01a209c9-bf94-72b2-bb38-c7e2fd765849",
        HIGH_DEMAND,
        "server_error",
        events=("session", *["error:server_error"] * 4, "error:server_error!"),
    ),
    "err_500_default_retries_json": failed(
        "01a209ca-11c4-71c2-a0ed-48c2a8c36ce8",
        HIGH_DEMAND,
        "server_error",
        events=("session", *["error:server_error"] * 5, "error:server_error!"),
    ),
    "err_bad_model_json": failed(
        "01a209c7-e4e5-76a2-a6d5-361a5dc155e0",
        BAD_MODEL,
        "model_not_found",
        events=("session", "error:warning", "error:model_not_found!"),
    ),
    "err_bad_model_text": text_failed(
        "01a209c7-e727-7750-95cd-ebe492fce3d6", BAD_MODEL, "model_not_found"
    ),
    "err_empty_json": failed("01a209c7-e05e-7a52-ae1b-4bd61290eae3", DISCONNECTED, "server_error"),
    "err_empty_text": text_failed(
        "01a209c7-e27a-7b10-8db5-d1ad8b73081b", DISCONNECTED, "server_error"
    ),
    "err_malformed_json": failed(
        "01a209c7-d753-7f41-9ac7-59c39848fa0c", DISCONNECTED, "server_error"
    ),
    "err_malformed_text": text_failed(
        "01a209c7-d997-7bb3-bc5e-170d290fdaea", DISCONNECTED, "server_error"
    ),
    "err_truncated_json": failed(
        "01a209c7-dbc7-72b0-870c-8d3cd8e3c4d1", DISCONNECTED, "server_error"
    ),
    "err_truncated_text": text_failed(
        "01a209c7-ddfe-7c53-a25d-1765ca833382", DISCONNECTED, "server_error"
    ),
    "err_server_down_no_unbounded_retries_json": failed(
        "01a209cb-eb38-7772-aedc-30f4eae5659e",
        "Connection failed: error sending request",
        "connection_failed",
    ),
    "err_server_down_no_unbounded_retries_text": text_failed(
        "01a209cb-ed88-7ed0-be75-f3b9706b49fb",
        "Connection failed: error sending request",
        "connection_failed",
    ),
    # -- runs that had to be killed (codex retried forever / waited on stdin) ----------------------
    "err_server_down_json": failed(
        "01a209c7-e9ed-74c1-ad21-2dc849bf2844",
        f"codex exited with code {KILLED} while retrying: {WAITING}",
        "connection_failed",
        events=("session", *["error:connection_failed"] * 5),
    ),
    "env_only_openai_base_url_json": failed(
        "01a209cb-f03d-7001-b7a2-2cbf8b8204d0",
        f"codex exited with code {KILLED} while retrying: {WAITING}",
        "connection_failed",
        events=(
            "session",
            *["error:connection_failed"] * 4,
            "error:warning",
            *["error:connection_failed"] * 4,
        ),
    ),
    "env_only_codex_api_key_json": failed(
        "01a209cc-dba7-7142-845a-a32c39e1cbc4",
        f"codex exited with code {KILLED} while retrying: {WAITING}",
        "connection_failed",
        events=(
            "session",
            *["error:connection_failed"] * 4,
            "error:warning",
            *["error:connection_failed"] * 3,
        ),
    ),
    "stdin_open_pipe_json": failed(
        None, f"codex exited with code {KILLED} without an error message", "crashed"
    ),
    # -- failures before the run starts: only stderr to go on --------------------------------------
    "err_bad_flag": text_failed(
        None, "error: invalid value 'nope' for '--sandbox <SANDBOX_MODE>'", "invalid_arguments"
    ),
    "err_wire_api_chat_json": failed(
        None,
        'Error loading config.toml: `wire_api = "chat"` is no longer supported. How to fix: '
        'set `wire_api = "responses"` in your provider config.',
        "config_error",
    ),
    "no_skip_git_check_json": failed(
        None,
        "Not inside a trusted directory and --skip-git-repo-check was not specified.",
        "permission_denied",
    ),
}

VERSION_CASES = ("timing2_version_0", "timing2_version_1", "timing2_version_2")


def test_every_transcript_has_expectations() -> None:
    listed = {f"codex__{name}" for name in (*CASES, *VERSION_CASES)}
    assert listed == set(names())


@pytest.mark.parametrize("case", sorted(CASES))
def test_replayed_run_shows_what_codex_did(case: str) -> None:
    expect = CASES[case]
    transcript = load(f"codex__{case}")
    replay = replay_streamed(transcript, transcript.request(resume_state=expect.resume_state))
    result = replay.result

    assert tuple(signature(ev) for ev in replay.events) == expect.events
    assert result.content == expect.content
    assert result.session_id == expect.session_id
    assert result.exit_code == transcript.exit_code
    if expect.usage is None:
        assert result.usage is None
    else:
        assert result.usage is not None
        inp, out, cached = expect.usage
        assert (result.usage.input_tokens, result.usage.output_tokens) == (inp, out)
        assert result.usage.cached_tokens == cached
        assert result.usage.total_tokens == inp + out
    if expect.error is None:
        assert result.error is None
        assert result.error_code is None
        assert result.ok
    else:
        assert result.error is not None
        assert expect.error in result.error
        assert result.error_code == expect.code
        assert not result.ok
        assert result.stop_reason == "error"
    fatal = [ev for ev in replay.events if isinstance(ev, Error) and ev.fatal]
    assert len(fatal) <= 1, "a failure is reported once, not once per codex line"


@pytest.mark.parametrize("case", sorted(CASES))
def test_captured_output_gives_the_same_result_as_streaming(case: str) -> None:
    """``-o json``/``-o text`` runs hand the whole stdout to parse_output at the end."""
    expect = CASES[case]
    transcript = load(f"codex__{case}")
    request = transcript.request(resume_state=expect.resume_state)
    if request.output == "stream":
        request = transcript.request(resume_state=expect.resume_state, output="json")
    streamed = replay_streamed(transcript, transcript.request(resume_state=expect.resume_state))
    captured = replay_captured(transcript, request)
    assert captured.content == streamed.result.content
    assert captured.session_id == streamed.result.session_id
    assert captured.usage == streamed.result.usage
    assert captured.error == streamed.result.error
    assert captured.error_code == streamed.result.error_code
    assert captured.backend_state == streamed.result.backend_state


@pytest.mark.parametrize("case", VERSION_CASES)
def test_version_output_is_recognised_as_tested(case: str) -> None:
    backend = CodexBackend()
    text = load(f"codex__{case}").stdout.decode()
    version = backend.parse_version(text)
    assert version == "0.169.0"
    assert backend.is_tested_version(version)


def test_tool_call_carries_the_command_and_its_output() -> None:
    replay = replay_streamed(load("codex__tool_shell_default_json"))
    use = next(ev for ev in replay.events if isinstance(ev, ToolUse))
    result = next(ev for ev in replay.events if isinstance(ev, ToolResult))
    assert use.input == {"command": "/bin/bash -lc 'echo tool-ran'"}
    assert (result.id, result.output, result.is_error) == (use.id, "tool-ran\n", False)
    assert replay.result.permission_denials == ()


def test_text_mode_reads_thread_and_model_from_the_stderr_banner() -> None:
    result = replay_captured(load("codex__text_ok"))
    assert result.session_id == "01a209c7-a06d-7ca3-a48e-895ac20d1a34"
    assert result.model == "gpt-5.5"
    assert result.stop_reason == "end_turn"
    assert result.backend_state == {"thread_id": "01a209c7-a06d-7ca3-a48e-895ac20d1a34"}


def test_a_conversation_reports_each_turn_once_across_resumes() -> None:
    """json_ok → resume by id → resume --last: each turn's usage, chained via backend_state."""
    first = replay_streamed(load("codex__json_ok")).result
    second_t = load("codex__resume_by_id_json")
    second = replay_streamed(second_t, second_t.request(resume_state=first.backend_state)).result
    third_t = load("codex__resume_last_json")
    # resume_last_json is the 5th turn of the thread; pretend turns 3-4 left this total behind.
    third_state = cumulative(THREAD_A, 44, 12, 28)
    third = replay_streamed(third_t, third_t.request(resume_state=third_state)).result

    for result in (first, second, third):
        assert result.usage is not None
        assert (result.usage.input_tokens, result.usage.output_tokens) == (11, 7)
    assert second.backend_state == cumulative(THREAD_A, 22, 6, 14)
    assert third.backend_state == cumulative(THREAD_A, 55, 15, 35)


def test_a_failed_resumed_turn_keeps_the_running_total_for_the_next_one() -> None:
    transcript = load("codex__err_500_json")
    thread = "01a209c7-d159-7292-b2da-b01d9947aab0"
    before = cumulative(thread, 11, 3, 7)
    request = transcript.request(resume_session_id=thread, resume_state=before)
    result = replay_streamed(transcript, request).result
    assert result.error_code == "server_error"
    assert result.backend_state == before


def test_resume_without_a_known_total_warns_instead_of_overcounting() -> None:
    replay = replay_streamed(load("codex__resume_by_id_json"))
    warning = next(ev for ev in replay.events if isinstance(ev, Error))
    assert not warning.fatal
    assert warning.code == "usage_unknown"
    assert replay.result.usage is None
    assert replay.result.backend_state == cumulative(THREAD_A, 22, 6, 14)
