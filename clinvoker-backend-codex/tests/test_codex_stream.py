"""Codex JSONL shapes the recorded transcripts do not cover, and output that is not JSONL at all."""

from __future__ import annotations

import json
from typing import Any

import pytest
from clinvoker.events import Error, Event, Message, TextDelta, ToolResult, ToolUse
from clinvoker.request import ParseState, RunOutput, RunRequest
from clinvoker.result import Result
from clinvoker_codex.backend import CodexBackend
from clinvoker_codex.diagnose import classify, stderr_error
from codex_transcripts import signature
from hypothesis import given, settings
from hypothesis import strategies as st

THREAD = '{"type":"thread.started","thread_id":"T1"}'
DONE = (
    '{"type":"turn.completed","usage":{"input_tokens":5,"cached_input_tokens":1,'
    '"cache_write_input_tokens":2,"output_tokens":3,"reasoning_output_tokens":1}}'
)


def item(kind: str, phase: str = "completed", **fields: Any) -> str:
    return json.dumps({"type": f"item.{phase}", "item": {"id": "item_0", "type": kind, **fields}})


def run(
    *lines: str | bytes, exit_code: int = 0, stderr: str = "", **kw: Any
) -> tuple[list[Event], Result]:
    backend = CodexBackend()
    request = RunRequest(prompt="p", backend="codex", **kw)
    state = ParseState(request)
    events: list[Event] = []
    for line in lines:
        events += backend.parse_stream(line.encode() if isinstance(line, str) else line, state)
    output = RunOutput(
        request=request, exit_code=exit_code, stderr=stderr, events=tuple(events), state=state
    )
    return events, backend.parse_output(output)


def test_several_agent_messages_read_as_paragraphs() -> None:
    events, result = run(
        THREAD,
        item("agent_message", text="Let me look."),
        item("agent_message", text="Done."),
        DONE,
    )
    deltas = [ev.text for ev in events if isinstance(ev, TextDelta)]
    assert deltas == ["Let me look.", "\n\n", "Done."]
    assert [ev.text for ev in events if isinstance(ev, Message)] == ["Let me look.", "Done."]
    assert result.content == "Let me look.\n\nDone."


def test_usage_maps_every_codex_counter() -> None:
    _, result = run(THREAD, DONE)
    assert result.usage is not None
    assert result.usage.to_dict() == {
        "input_tokens": 5,
        "output_tokens": 3,
        "cached_tokens": 1,
        "cache_write_tokens": 2,
        "reasoning_tokens": 1,
        "total_tokens": 8,
    }
    assert result.cost_usd is None


def test_a_declined_command_is_a_permission_denial() -> None:
    events, result = run(
        THREAD,
        item("command_execution", "started", command="rm -rf /", status="in_progress"),
        item(
            "command_execution",
            command="rm -rf /",
            aggregated_output="",
            exit_code=None,
            status="declined",
        ),
        DONE,
    )
    assert [signature(ev) for ev in events] == [
        "session",
        "tool_use:command_execution",
        "tool_result:command_execution:error",
        "usage",
    ]
    assert result.permission_denials == ("command_execution: rm -rf /",)


def test_a_failing_command_is_an_error_result_but_not_a_denial() -> None:
    events, result = run(
        THREAD,
        item(
            "command_execution", command="false", aggregated_output="", exit_code=1, status="failed"
        ),
    )
    tool_result = next(ev for ev in events if isinstance(ev, ToolResult))
    assert tool_result.is_error
    assert result.permission_denials == ()


def test_file_changes_are_tool_calls() -> None:
    changes = [{"path": "a.py", "kind": "update"}, {"path": "b.py", "kind": "add"}]
    events, _ = run(THREAD, item("file_change", changes=changes, status="completed"))
    use = next(ev for ev in events if isinstance(ev, ToolUse))
    done = next(ev for ev in events if isinstance(ev, ToolResult))
    assert (use.name, use.input) == ("file_change", {"changes": changes})
    assert (done.output, done.is_error) == ("update a.py\nadd b.py", False)


def test_mcp_tool_calls_carry_arguments_and_result_text() -> None:
    started = item(
        "mcp_tool_call",
        "started",
        server="docs",
        tool="search",
        arguments={"q": "x"},
        status="in_progress",
    )
    finished = item(
        "mcp_tool_call",
        server="docs",
        tool="search",
        arguments={"q": "x"},
        result={"content": [{"type": "text", "text": "found it"}]},
        status="completed",
    )
    failed = json.dumps(
        {
            "type": "item.completed",
            "item": {
                "id": "item_1",
                "type": "mcp_tool_call",
                "server": "docs",
                "tool": "search",
                "arguments": None,
                "error": {"message": "server down"},
                "status": "failed",
            },
        }
    )
    events, _ = run(THREAD, started, finished, failed)
    assert [signature(ev) for ev in events] == [
        "session",
        "tool_use:docs.search",
        "tool_result:docs.search",
        "tool_use:docs.search",
        "tool_result:docs.search:error",
    ]
    uses = [ev for ev in events if isinstance(ev, ToolUse)]
    results = [ev for ev in events if isinstance(ev, ToolResult)]
    assert uses[0].input == {"q": "x"}
    assert [r.output for r in results] == ["found it", "server down"]


def test_web_search_is_a_tool_call() -> None:
    events, _ = run(THREAD, item("web_search", query="pluggy docs"))
    use = next(ev for ev in events if isinstance(ev, ToolUse))
    assert (use.name, use.input) == ("web_search", {"query": "pluggy docs"})


def test_reasoning_todo_lists_and_unknown_events_are_skipped() -> None:
    events, result = run(
        THREAD,
        item("reasoning", text="thinking..."),
        item("todo_list", items=[{"text": "a", "completed": False}]),
        '{"type":"turn.something_new","x":1}',
        '{"type":"item.completed","item":{"id":"item_9","type":"future_thing"}}',
        item("agent_message", text="ok"),
        DONE,
    )
    assert [signature(ev) for ev in events] == ["session", "text", "message", "usage"]
    assert result.ok


@pytest.mark.parametrize(
    "junk",
    [
        b"not json at all",
        b"[1, 2, 3]",
        b'"a string"',
        b"\xff\xfe\x00garbage",
        b'{"type":"item.completed","item":"oops"}',
        b'{"type":"turn.completed","usage":{"input_tokens":"many"}}',
        b'{"type":"thread.started","thread_id":42}',
        b'{"type":"turn.completed","usage":null}',
        b'{"type":7}',
    ],
)
def test_malformed_lines_never_stop_the_run(junk: bytes) -> None:
    events, result = run(THREAD, junk, item("agent_message", text="still here"), DONE)
    assert result.content == "still here"
    assert result.ok
    assert not [ev for ev in events if isinstance(ev, Error) and ev.fatal]


def test_only_the_first_non_json_line_is_reported() -> None:
    events, _ = run(THREAD, "garbage 1", "garbage 2", "garbage 3")
    warnings = [ev for ev in events if isinstance(ev, Error)]
    assert len(warnings) == 1
    assert warnings[0].code == "malformed_output"
    assert "garbage 1" in warnings[0].message


def test_a_failed_turn_without_a_message_still_explains_itself() -> None:
    events, result = run(THREAD, '{"type":"turn.failed","error":{}}', exit_code=1)
    assert result.error == "codex reported that the turn failed without a message"
    assert [signature(ev) for ev in events] == ["session", "error:backend_error!"]


def test_a_failed_turn_with_a_bare_string_error_uses_it() -> None:
    _, result = run(THREAD, '{"type":"turn.failed","error":"quota exceeded"}', exit_code=1)
    assert (result.error, result.error_code) == ("quota exceeded", "rate_limited")


def test_exit_zero_without_any_event_is_malformed_output() -> None:
    _, result = run(stderr="Reading additional input from stdin...\n")
    assert result.error_code == "malformed_output"
    assert result.exit_code == 0
    assert not result.ok


def test_a_huge_command_output_line_is_parsed() -> None:
    big = "x" * (20 * 1024 * 1024)
    events, _ = run(
        THREAD,
        item(
            "command_execution",
            command="cat big",
            aggregated_output=big,
            exit_code=0,
            status="completed",
        ),
    )
    output = next(ev for ev in events if isinstance(ev, ToolResult)).output
    assert len(output) == len(big)


def test_continue_last_that_resumed_the_expected_thread_says_nothing() -> None:
    state = {"thread_id": "T1", "cumulative_usage": {"input_tokens": 2, "output_tokens": 1}}
    events, result = run(THREAD, DONE, continue_last=True, resume_state=state)
    assert [signature(ev) for ev in events] == ["session", "usage"]
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (3, 2)


def test_continue_last_after_a_text_mode_turn_does_not_double_count() -> None:
    events, result = run(THREAD, DONE, continue_last=True, resume_state={"thread_id": "T1"})
    assert [signature(ev) for ev in events] == ["session", "error:usage_unknown"]
    assert result.usage is None


def test_only_the_first_failure_is_fatal() -> None:
    events, result = run(
        THREAD,
        '{"type":"error","message":"unexpected status 401 Unauthorized"}',
        '{"type":"turn.failed","error":{"message":"something else went wrong"}}',
        exit_code=1,
    )
    assert [signature(ev) for ev in events] == [
        "session",
        "error:authentication_failed!",
        "error:backend_error",
    ]
    assert result.error == "unexpected status 401 Unauthorized"


def test_an_ephemeral_fork_reports_only_its_own_turn() -> None:
    parent = {"thread_id": "P", "cumulative_usage": {"input_tokens": 3, "output_tokens": 1}}
    fork_usage = '{"type":"turn.completed","usage":{"input_tokens":8,"output_tokens":4}}'
    events, result = run(
        THREAD, fork_usage, resume_session_id="P", ephemeral=True, resume_state=parent
    )
    assert [signature(ev) for ev in events] == ["session", "usage"]
    assert result.session_id == "T1"
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (5, 3)


def test_a_thread_other_than_the_requested_one_is_flagged() -> None:
    events, _ = run(THREAD, resume_session_id="T0")
    assert [signature(ev) for ev in events] == ["session", "error:session_mismatch"]


def test_a_shrinking_running_total_is_reported_as_is() -> None:
    state = {"thread_id": "T1", "cumulative_usage": {"input_tokens": 500, "output_tokens": 100}}
    _, result = run(THREAD, DONE, resume_session_id="T1", resume_state=state)
    assert result.usage is not None
    assert result.usage.input_tokens == 5


def test_text_mode_lines_stream_as_text() -> None:
    events, result = run(b"first line", b"", b"third line", output="text")
    assert (
        "".join(ev.text for ev in events if isinstance(ev, TextDelta)) == "first line\n\nthird line"
    )
    assert result.content == "first line\n\nthird line"


def test_text_mode_captured_output_keeps_inner_newlines() -> None:
    request = RunRequest(prompt="p", backend="codex", output="text")
    output = RunOutput(request=request, exit_code=0, stdout=b"a\n\nb\n", stderr="session id: T9\n")
    result = CodexBackend().parse_output(output)
    assert (result.content, result.session_id) == ("a\n\nb", "T9")


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("unexpected status 401 Unauthorized: bad key", "authentication_failed"),
        ("Missing environment variable: `OPENAI_API_KEY`.", "authentication_failed"),
        ("unexpected status 403 Forbidden: region", "permission_denied"),
        ("exceeded retry limit, last status: 429 Too Many Requests", "rate_limited"),
        ("You've hit your usage limit.", "rate_limited"),
        ("The requested model 'x' does not exist.", "model_not_found"),
        ("Codex ran out of room in the model's context window.", "context_length_exceeded"),
        ("Connection failed: error sending request", "connection_failed"),
        (
            "stream disconnected before completion: failed to lookup address information",
            "connection_failed",
        ),
        ("unexpected status 503 Service Unavailable", "server_error"),
        (
            "stream disconnected before completion: stream closed before response.completed",
            "server_error",
        ),
        ("something nobody has seen before", "backend_error"),
    ],
)
def test_error_messages_get_stable_codes(message: str, code: str) -> None:
    assert classify(message) == code


def test_stderr_only_failures_prefer_the_real_reason_over_log_noise() -> None:
    stderr = (
        "WARNING: proceeding, even though we could not create PATH aliases: x\n"
        "2026-11-23T19:05:53.172687Z ERROR codex_models_manager::manager: failed to refresh\n"
        "Error: thread/resume: thread/resume failed: no rollout found for thread id abc (code -32600)\n"
    )
    message, code = stderr_error(stderr, 1)
    assert code == "session_not_found"
    assert "thread id abc" in message
    assert "(code" not in message


def test_stderr_with_only_log_lines_still_gives_a_message() -> None:
    stderr = "2026-11-23T19:05:53Z ERROR codex_api: failed to connect to Responses WebSocket\n"
    message, code = stderr_error(stderr, 1)
    assert "failed to connect" in message
    assert code == "crashed"


def test_empty_stderr_names_the_exit_code() -> None:
    assert stderr_error("", 137) == (
        "codex exited with code 137 without an error message",
        "crashed",
    )


# -- fuzzing -----------------------------------------------------------------------------------

EVENT_TYPES = st.sampled_from(
    [
        "thread.started",
        "turn.started",
        "turn.completed",
        "turn.failed",
        "error",
        "item.started",
        "item.updated",
        "item.completed",
        "unknown",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
ITEM_KINDS = st.sampled_from(
    [
        "agent_message",
        "command_execution",
        "file_change",
        "mcp_tool_call",
        "web_search",
        "error",
        "x",
    ]
)
ITEMS = st.fixed_dictionaries(
    {"id": st.text(max_size=5) | st.integers(), "type": ITEM_KINDS},
    optional={
        k: JSON_VALUES
        for k in (
            "text",
            "command",
            "aggregated_output",
            "exit_code",
            "status",
            "changes",
            "server",
            "tool",
            "arguments",
            "result",
            "error",
            "query",
            "message",
        )
    },
)
EVENTS = st.fixed_dictionaries(
    {"type": EVENT_TYPES},
    optional={
        "thread_id": JSON_VALUES,
        "item": ITEMS | JSON_VALUES,
        "usage": JSON_VALUES,
        "error": JSON_VALUES,
        "message": JSON_VALUES,
    },
)
OPTIONS = st.fixed_dictionaries(
    {
        "output": st.sampled_from(["stream", "json", "text"]),
        "continue_last": st.booleans(),
        "resume_session_id": st.none() | st.text(max_size=4),
        "resume_state": st.dictionaries(
            st.sampled_from(["thread_id", "cumulative_usage"]), JSON_VALUES
        ),
    }
)


def _consume(lines: list[bytes], options: dict[str, Any], exit_code: int, stderr: str) -> Result:
    backend = CodexBackend()
    request = RunRequest(prompt="p", backend="codex", **options)
    state = ParseState(request)
    events: list[Event] = []
    for line in lines:
        produced = backend.parse_stream(line, state)
        assert isinstance(produced, list)
        events += produced
    output = RunOutput(
        request=request, exit_code=exit_code, stderr=stderr, events=tuple(events), state=state
    )
    return backend.parse_output(output)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=200), max_size=8),
    OPTIONS,
    st.integers(-20, 300),
    st.text(max_size=200),
)
def test_arbitrary_bytes_never_raise(
    lines: list[bytes], options: dict[str, Any], exit_code: int, stderr: str
) -> None:
    result = _consume(lines, options, exit_code, stderr)
    assert result.ok == (exit_code == 0 and result.error is None)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENTS, max_size=10), OPTIONS, st.integers(-20, 300), st.text(max_size=200))
def test_arbitrary_codex_shaped_events_never_raise(
    events: list[dict[str, Any]], options: dict[str, Any], exit_code: int, stderr: str
) -> None:
    lines = [json.dumps(ev).encode() for ev in events]
    result = _consume(lines, options, exit_code, stderr)
    if exit_code != 0:
        assert result.error


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=400),
    st.sampled_from(["stream", "json", "text"]),
    st.integers(-20, 300),
    st.text(max_size=200),
)
def test_arbitrary_captured_output_never_raises(
    stdout: bytes, output: str, exit_code: int, stderr: str
) -> None:
    request = RunRequest(prompt="p", backend="codex", output=output)  # type: ignore[arg-type]
    result = CodexBackend().parse_output(
        RunOutput(request=request, exit_code=exit_code, stdout=stdout, stderr=stderr)
    )
    assert isinstance(result, Result)
