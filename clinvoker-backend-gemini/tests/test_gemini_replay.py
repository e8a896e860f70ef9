"""Every recorded gemini 0.61.0 run, replayed through the backend: what would the user see?

Each case lists what the transcript shows — the answer, gemini's session id, the token usage,
and for failures the stable error code plus a piece of gemini's own message.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from clinvoker.events import (
    Error,
    Event,
    Message,
    SessionStarted,
    TextDelta,
    ToolResult,
    ToolUse,
    UsageReport,
)
from clinvoker_gemini.backend import GeminiBackend
from gemini_transcripts import KILLED, all_cases, captured, stream, transcript

HELLO = "Hello from fake model"
PRO = "gemini-2.5-pro"
ONE_CALL = (11, 7, 3)  # input (prompt, cached included), output, cached
TWO_CALLS = (22, 14, 6)  # a tool round trip, or the router call of model "auto" plus the answer
ZERO = (0, 0, 0)

AUTH = ("authentication_failed", "Request had invalid authentication credentials")
QUOTA = ("rate_limited", "Resource has been exhausted")
SERVER = ("server_error", "An internal error has occurred")
CUT = ("incomplete_response", "Model stream ended without a finish reason")
BAD_JSON = ("server_error", "not valid JSON: Expected property name")
NO_MODEL = ("model_not_found", "models/gemini-nonexistent-9 is not found")


@dataclass(frozen=True)
class Case:
    """What the user sees after the run."""

    session_id: str | None = None
    content: str = HELLO
    usage: tuple[int, int, int] | None = None
    model: str | None = None
    failure: tuple[str, str] | None = None  # (error code, text from gemini's message)
    denials: tuple[str, ...] = ()


def ok_json(sid: str, usage: tuple[int, int, int] = ONE_CALL) -> Case:
    return Case(sid, usage=usage, model=PRO)


def ok_stream(sid: str, usage: tuple[int, int, int] = ONE_CALL, model: str = PRO) -> Case:
    return Case(sid, usage=usage, model=model)


TEXT_OK = Case()

CASES: dict[str, Case] = {
    # happy paths, one per output format
    "stream_json_ok": ok_stream("9a967a4b-dba9-4c72-887f-987f20846a8b"),
    "json_ok": ok_json("3acbe46f-ff66-4c32-ad40-ec2519fbdc79"),
    "text_ok": TEXT_OK,
    "relaunch_text": TEXT_OK,
    **{f"timing_text_{i}": TEXT_OK for i in range(3)},
    **{f"timing2_text_{i}": TEXT_OK for i in range(3)},
    **{f"timing_relaunch_text_{i}": TEXT_OK for i in range(3)},
    **{f"timing2_relaunch_text_{i}": TEXT_OK for i in range(3)},
    "timing2_stream_json_0": ok_stream("9cbd2284-acbe-4d1c-8547-7c67bb9e6f1f"),
    "timing2_stream_json_1": ok_stream("b4838e5c-0b6b-4052-a992-c604d7598d0a"),
    "timing2_stream_json_2": ok_stream("5cb1de8b-085c-4615-b84a-3caced455317"),
    # model "auto": the router call and the answer are both billed, so both are counted
    "default_model_auto_stream_json": ok_stream(
        "a5881282-2f06-406c-919c-6acefcfaaa8c", TWO_CALLS, model="auto"
    ),
    # sessions
    "resume_by_id_json": ok_json("3acbe46f-ff66-4c32-ad40-ec2519fbdc79"),
    "resume_by_id_stream_json": ok_stream("3acbe46f-ff66-4c32-ad40-ec2519fbdc79"),
    "resume_latest_json": ok_json("3acbe46f-ff66-4c32-ad40-ec2519fbdc79"),
    "resume_index_1_json": ok_json("fcfeb0eb-3bb6-44db-bd70-a6ef4476e35c"),
    "session_id_preset_json": ok_json("11111111-2222-4333-8444-555555555555"),
    "resume_unknown_id_json": Case(
        content="", failure=("session_not_found", 'Invalid session identifier "00000000-')
    ),
    # how the prompt and options reach gemini
    "positional_prompt_json": ok_json("385529b9-53b8-4328-a0eb-470fea6a48ae"),
    "stdin_only_json": ok_json("517286ab-48ca-42ca-ae56-55525504ae14"),
    "stdin_plus_p_json": ok_json("64141dac-a812-48b1-a4f1-2c2119f3222d"),
    "stdin_open_pipe_json": ok_json("a1536470-8305-4443-807f-0a2ad349271d"),
    "flags_json": ok_json("83353026-68b5-4479-a7d0-b252ce0f336f"),
    "plan_mode_json": ok_json("6629ad71-91f3-438d-9385-ac605c433d60"),
    "trust_env_json": ok_json("15c88254-54d8-4741-849f-5ad92517190f"),
    "side_traffic_defaults_json": ok_json("2575fb73-2e96-4431-9125-1daf76c800ff"),
    "no_trust_json": Case(
        content="", failure=("permission_denied", "not running in a trusted directory")
    ),
    # tools
    "tool_default_stream_json": ok_stream("8702e142-6550-499d-a150-2c2a2528f63b", TWO_CALLS),
    "tool_yolo_stream_json": ok_stream("68b29dfd-10a9-4c3e-8fd1-b1d5f63be297", TWO_CALLS),
    "toolw_yolo_stream_json": ok_stream("4d3495fb-0c5f-4fff-addd-f068fb4c0dfc", TWO_CALLS),
    "toolw_yolo_json": ok_json("83cfb127-6e8e-4e8b-90f3-7d18aba4d50d", TWO_CALLS),
    "toolw_default_stream_json": Case(
        "ec0272ed-4c93-4ef8-b570-2fefca46feb1",
        usage=TWO_CALLS,
        model=PRO,
        denials=("run_shell_command",),
    ),
    # API errors (general.maxAttempts=1)
    "err_401_json": Case("06dba226-ce7d-4f79-acc0-8b396ceb23d0", "", model=PRO, failure=AUTH),
    "tmpdir_err_401_json": Case(
        "a80a1f1d-f13b-45c7-ac05-d075651a2ecf", "", model=PRO, failure=AUTH
    ),
    "err_401_stream_json": Case(
        "c3ea42c9-5925-4cd7-84a1-c19c59eb48c5", "", ZERO, PRO, failure=AUTH
    ),
    "err_401_text": Case(content="", failure=AUTH),
    "err_429_json": Case("2636e45d-4ada-4f74-b925-9fcefc94ad0e", "", model=PRO, failure=QUOTA),
    "err_429_stream_json": Case(
        "5e198f27-69f2-41b0-bcad-c6cca3bc6e7b", "", ZERO, PRO, failure=QUOTA
    ),
    "err_429_text": Case(content="", failure=QUOTA),
    "err_500_json": Case("1ced4376-fc46-4a65-893c-174f5ce2d0e3", "", model=PRO, failure=SERVER),
    "err_500_stream_json": Case(
        "5cadfb72-023f-4959-9951-a3b610f73105", "", ZERO, PRO, failure=SERVER
    ),
    "err_500_text": Case(content="", failure=SERVER),
    "err_malformed_json": Case(
        "73222442-2dd9-4bff-b70d-f0f97fc48175", "", model=PRO, failure=BAD_JSON
    ),
    "err_malformed_stream_json": Case(
        "5ef0c185-4c83-4032-8722-76b0dcaf2e17", "", ZERO, PRO, failure=BAD_JSON
    ),
    "err_malformed_text": Case(content="", failure=BAD_JSON),
    "err_bad_model_json": Case(
        "d9c5d8ce-59bc-47d5-8de0-b079c469d41f",
        "",
        model="gemini-nonexistent-9",
        failure=NO_MODEL,
    ),
    "err_bad_model_stream_json": Case(
        "5cc543ef-067e-4ff3-8383-2e89706ca6a6",
        "",
        ZERO,
        "gemini-nonexistent-9",
        failure=NO_MODEL,
    ),
    "err_server_down_json": Case(
        "bee2686d-8477-4f75-9665-1e41a1686c79",
        "",
        model=PRO,
        failure=("connection_failed", "Could not reach the Gemini API: exception TypeError"),
    ),
    "err_no_api_key_json": Case(
        "b8090d59-b8a4-415c-8c58-e78a45274772",
        "",
        model=PRO,
        failure=("authentication_failed", "you must specify the GEMINI_API_KEY"),
    ),
    "err_no_auth_settings_json": Case(
        "f64137d8-a421-4b57-8b94-045971dd52ae",
        "",
        model=PRO,
        failure=("authentication_failed", "Invalid auth method selected."),
    ),
    "err_bad_flag": Case(
        content="", failure=("invalid_request", 'Argument: output-format, Given: "yaml"')
    ),
    # the stream ends early: gemini exits 0, but the answer must not look complete
    "err_truncated_stream_json": Case(
        "5f6bb293-d30d-4879-b45a-930ec83527f5", "Hello from", ZERO, PRO, failure=CUT
    ),
    "err_truncated_json": Case(
        "82b81096-b33d-481c-8395-59eee805ef49", "Hello from", ZERO, PRO, failure=CUT
    ),
    "err_truncated_text": Case(content="Hello from", failure=CUT),
    "err_empty_stream_json": Case(
        "b1085463-ba18-4a6c-9f94-30acf782b1ea", "", ZERO, PRO, failure=CUT
    ),
    "err_empty_json": Case("3f6d5a2f-f95e-4f9f-b363-a0223e746d3a", "", ZERO, PRO, failure=CUT),
    "err_empty_text": Case(content="", failure=CUT),
    # default retry policy
    "err_429x2_then_ok_default_retries_json": ok_json("def48b6a-f769-4f88-8c2d-8c8c2f27c4e5"),
    # killed by the recorder after 90 s of retries: the last attempt's error is what we know
    "err_500_default_retries_json": Case(content="", failure=SERVER),
}

NOT_RUNS = {"timing2_version_0", "timing2_version_1", "timing2_version_2", "list_sessions"}


@pytest.fixture(scope="module")
def backend() -> GeminiBackend:
    return GeminiBackend()


def test_every_transcript_has_an_expectation() -> None:
    assert set(all_cases()) == set(CASES) | NOT_RUNS


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_sees_what_gemini_did(case: str, backend: GeminiBackend) -> None:
    want = CASES[case]
    t = transcript(case)
    _, result = stream(t, backend)

    assert result.content == want.content
    assert result.session_id == want.session_id
    assert result.model == want.model
    usage = result.usage
    got_usage = (
        None if usage is None else (usage.input_tokens, usage.output_tokens, usage.cached_tokens)
    )
    assert got_usage == want.usage
    assert result.exit_code == t.exit_code
    assert result.permission_denials == want.denials
    if want.failure is None:
        assert result.ok, result.error
        assert result.error is None
        assert result.error_code is None
    else:
        code, text = want.failure
        assert not result.ok
        assert result.error_code == code
        assert result.error is not None
        assert text in result.error


@pytest.mark.parametrize("case", sorted(CASES))
def test_streamed_and_captured_runs_give_the_same_result(case: str, backend: GeminiBackend) -> None:
    t = transcript(case)
    assert stream(t, backend)[1] == captured(t, backend)


STREAM_CASES = [c for c in sorted(CASES) if transcript(c).output == "stream"]


@pytest.mark.parametrize("case", STREAM_CASES)
def test_streamed_events_tell_the_story_as_it_happens(case: str, backend: GeminiBackend) -> None:
    """A streaming client sees the same session, text, usage and failure as the final result."""
    want = CASES[case]
    events, _ = stream(transcript(case), backend)
    started = [e for e in events if isinstance(e, SessionStarted)]
    assert [s.session_id for s in started] == [want.session_id]
    assert events[0] is started[0]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == want.content
    usages = [e.usage for e in events if isinstance(e, UsageReport)]
    assert [(u.input_tokens, u.output_tokens, u.cached_tokens) for u in usages] == [want.usage]
    failures = [e.code for e in events if isinstance(e, Error) and e.fatal]
    assert failures == ([want.failure[0]] if want.failure else [])


def _kinds(events: list[Event]) -> list[str]:
    names = {
        SessionStarted: "session",
        TextDelta: "text",
        Message: "message",
        ToolUse: "tool_use",
        ToolResult: "tool_result",
        UsageReport: "usage",
    }
    out = []
    for ev in events:
        if isinstance(ev, Error):
            out.append("error" if ev.fatal else "warning")
        else:
            out.append(names[type(ev)])
    return out


ANSWER = ["text", "text", "text", "text"]


@pytest.mark.parametrize(
    ("case", "kinds"),
    [
        ("stream_json_ok", ["session", *ANSWER, "message", "usage"]),
        ("resume_by_id_stream_json", ["session", *ANSWER, "message", "usage"]),
        ("default_model_auto_stream_json", ["session", *ANSWER, "message", "usage"]),
        (
            "tool_default_stream_json",
            ["session", "tool_use", "tool_result", *ANSWER, "message", "usage"],
        ),
        (
            "toolw_default_stream_json",
            ["session", "tool_use", "tool_result", *ANSWER, "message", "usage"],
        ),
        ("err_401_stream_json", ["session", "usage", "error"]),
        ("err_truncated_stream_json", ["session", "text", "text", "message", "usage", "error"]),
        ("err_empty_stream_json", ["session", "usage", "error"]),
    ],
)
def test_stream_events_arrive_in_order(case: str, kinds: list[str], backend: GeminiBackend) -> None:
    events, _ = stream(transcript(case), backend)
    assert _kinds(events) == kinds


def test_deltas_carry_the_answer_as_it_streams(backend: GeminiBackend) -> None:
    events, _ = stream(transcript("stream_json_ok"), backend)
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "Hello",
        " from",
        " fake",
        " model",
    ]
    assert [e.text for e in events if isinstance(e, Message)] == [HELLO]
    started = events[0]
    assert isinstance(started, SessionStarted)
    assert started.session_id == "9a967a4b-dba9-4c72-887f-987f20846a8b"


def test_a_tool_call_and_its_output_are_reported(backend: GeminiBackend) -> None:
    events, _ = stream(transcript("tool_yolo_stream_json"), backend)
    use = next(e for e in events if isinstance(e, ToolUse))
    res = next(e for e in events if isinstance(e, ToolResult))
    assert use.name == "run_shell_command"
    assert use.input == {"command": "echo tool-ran", "description": "Print a marker"}
    assert res.id == use.id
    assert (res.name, res.output, res.is_error) == ("run_shell_command", "tool-ran", False)


def test_a_refused_tool_is_an_error_result_and_a_denial(backend: GeminiBackend) -> None:
    events, result = stream(transcript("toolw_default_stream_json"), backend)
    res = next(e for e in events if isinstance(e, ToolResult))
    assert res.is_error
    assert res.name == "run_shell_command"
    assert 'Tool "run_shell_command" not found' in res.output
    assert result.permission_denials == ("run_shell_command",)
    assert result.ok  # the model answered anyway


def test_the_http_status_is_named_when_gemini_gives_it(backend: GeminiBackend) -> None:
    _, result = stream(transcript("err_401_stream_json"), backend)
    assert result.error is not None
    assert result.error.startswith("API error 401 UNAUTHENTICATED: Request had invalid")
    assert "GEMINI_API_KEY" in result.error  # and what to do about it


def test_an_unknown_resume_id_says_where_gemini_looked_for_sessions(backend: GeminiBackend) -> None:
    _, result = stream(transcript("resume_unknown_id_json"), backend)
    assert result.exit_code == 42
    assert result.error is not None
    assert "working directory" in result.error


def test_a_killed_run_reports_the_last_retry_error(backend: GeminiBackend) -> None:
    t = transcript("err_500_default_retries_json")
    assert t.exit_code == KILLED
    _, result = stream(t, backend)
    assert result.error is not None
    assert result.error.startswith("API error 500 INTERNAL")


@pytest.mark.parametrize("case", ["timing2_version_0", "timing2_version_1", "timing2_version_2"])
def test_version_output_is_the_tested_version(case: str, backend: GeminiBackend) -> None:
    t = transcript(case)
    assert t.argv == backend.version_args
    version = backend.parse_version(t.stdout.decode())
    assert version == "0.61.0"
    assert backend.is_tested_version(version)


def test_session_listing_shows_the_ids_clinvoker_resumes_and_deletes(
    backend: GeminiBackend,
) -> None:
    t = transcript("list_sessions")
    result = captured(t, backend)
    assert result.ok
    assert "[3acbe46f-ff66-4c32-ad40-ec2519fbdc79]" in result.content
    # the session json_ok created is the one resume_by_id_json resumed
    assert (
        stream(transcript("json_ok"), backend)[1].session_id
        == "3acbe46f-ff66-4c32-ad40-ec2519fbdc79"
    )
