"""Parsing cases the recorded runs do not cover, and garbage that must never raise."""

from __future__ import annotations

import json
from typing import Any, get_args

from claude_transcripts import load
from clinvoker.events import Error, Event, Message, TextDelta, ToolResult, UsageReport
from clinvoker.request import OutputMode, ParseState, RunOutput, RunRequest
from clinvoker.result import Result
from clinvoker_claude.backend import ClaudeBackend
from hypothesis import given, settings
from hypothesis import strategies as st

SID = "2b0c5a2e-6f7e-4c1d-9a55-0d5d3e1f7a10"


def line(obj: dict[str, Any]) -> bytes:
    return json.dumps({"session_id": SID, **obj}).encode()


def delta(text: str, *, kind: str = "text_delta", parent: str | None = None) -> bytes:
    event = {"type": "content_block_delta", "index": 0, "delta": {"type": kind, kind[:-6]: text}}
    return line({"type": "stream_event", "event": event, "parent_tool_use_id": parent})


def message_start(message_id: str) -> bytes:
    event = {"type": "message_start", "message": {"id": message_id, "model": "claude-sonnet-4-5"}}
    return line({"type": "stream_event", "event": event, "parent_tool_use_id": None})


def assistant(message_id: str, *blocks: dict[str, Any], parent: str | None = None) -> bytes:
    message = {"id": message_id, "model": "claude-sonnet-4-5", "content": list(blocks)}
    return line({"type": "assistant", "message": message, "parent_tool_use_id": parent})


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def result_line(**fields: Any) -> bytes:
    base = {"type": "result", "subtype": "success", "is_error": False, "result": "", "num_turns": 1}
    return line({**base, **fields})


def run(
    lines: list[bytes],
    *,
    exit_code: int = 0,
    stderr: str = "",
    output: OutputMode = "stream",
    **request: Any,
) -> tuple[list[Event], Result]:
    backend = ClaudeBackend()
    req = RunRequest(prompt="hi", backend="claude", output=output, **request)
    state = ParseState(req)
    events = [ev for raw in lines for ev in backend.parse_stream(raw, state)]
    out = RunOutput(
        request=req, exit_code=exit_code, stderr=stderr, events=tuple(events), state=state
    )
    return events, backend.parse_output(out)


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_unknown_event_types_are_skipped() -> None:
    events, result = run(
        [
            line({"type": "system", "subtype": "hook_started", "hook": "x"}),
            line({"type": "rate_limit_event", "rate_limit_info": {}}),
            line({"type": "stream_event", "event": {"type": "ping"}}),
            assistant("m1", text_block("Hi")),
            result_line(result="Hi", usage={"input_tokens": 5, "output_tokens": 1}),
        ]
    )
    assert [type(e).__name__ for e in events] == [
        "SessionStarted",
        "TextDelta",
        "Message",
        "UsageReport",
    ]
    assert result.ok
    assert result.content == "Hi"


def test_a_stream_that_ends_without_a_result_is_an_error_not_a_short_answer() -> None:
    events, result = run([message_start("m1"), delta("Hel"), b"Segmentation fault"])
    assert text_of(events) == "Hel"
    assert result.error_code == "malformed_output"
    assert result.error is not None
    assert "without reporting a result" in result.error
    assert "Segmentation fault" in result.error  # the stray line helps diagnose it
    assert not result.ok


def test_a_synthetic_error_without_a_result_still_reaches_the_user() -> None:
    synthetic = line(
        {
            "type": "assistant",
            "message": {"model": "<synthetic>", "content": [text_block("Invalid API key")]},
            "error": "authentication_failed",
        }
    )
    events, result = run([synthetic], exit_code=1)
    assert text_of(events) == ""  # the error text is not the answer
    assert result.error == "Invalid API key"
    assert result.error_code == "authentication_failed"


def test_an_error_that_recovers_is_a_warning() -> None:
    synthetic = line(
        {
            "type": "assistant",
            "message": {"model": "<synthetic>", "content": [text_block("API Error: 529")]},
            "error": "server_error",
        }
    )
    events, result = run([synthetic, assistant("m2", text_block("ok")), result_line(result="ok")])
    warnings = [e for e in events if isinstance(e, Error)]
    assert [(w.code, w.fatal) for w in warnings] == [("server_error", False)]
    assert result.ok
    assert result.content == "ok"


def test_an_error_result_without_details_uses_the_http_status() -> None:
    _, result = run(
        [result_line(is_error=True, result="Forbidden", api_error_status=403)], exit_code=1
    )
    assert (result.error, result.error_code) == ("Forbidden", "authentication_failed")


def test_budget_exhaustion() -> None:
    _, result = run(
        [result_line(subtype="error_max_budget_usd", is_error=True, errors=["Budget spent"])],
        exit_code=1,
    )
    assert (result.error, result.error_code) == ("Budget spent", "budget_exceeded")


def test_sub_agent_text_is_not_part_of_the_answer() -> None:
    events, result = run(
        [
            delta("inner thoughts", parent="toolu_1"),
            assistant("sub", text_block("sub-agent report"), parent="toolu_1"),
            message_start("m1"),
            delta("Final"),
            assistant("m1", text_block("Final")),
            result_line(result="Final"),
        ]
    )
    assert text_of(events) == "Final"
    assert [e.text for e in events if isinstance(e, Message)] == ["Final"]
    assert result.content == "Final"


def test_thinking_is_not_part_of_the_answer() -> None:
    events, _ = run(
        [
            message_start("m1"),
            delta("let me think", kind="thinking_delta"),
            delta("Answer"),
            assistant("m1", {"type": "thinking", "thinking": "let me think"}, text_block("Answer")),
            result_line(result="Answer"),
        ]
    )
    assert text_of(events) == "Answer"


def test_a_restarted_reply_with_different_text_is_flagged() -> None:
    events, result = run(
        [
            message_start("m1"),
            delta("Bonjour"),
            assistant("m2", text_block("Hello there")),
            result_line(result="Hello there"),
        ]
    )
    warnings = [(e.code, e.fatal) for e in events if isinstance(e, Error)]
    assert warnings == [("stream_restarted", False)]
    assert text_of(events).endswith("Hello there")
    assert result.ok


def test_tool_results_with_content_blocks() -> None:
    events, _ = run(
        [
            assistant("m1", {"type": "tool_use", "id": "t1", "name": "Read", "input": {"p": 1}}),
            line(
                {
                    "type": "user",
                    "message": {
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t1",
                                "content": [text_block("line 1"), {"type": "image"}],
                            }
                        ]
                    },
                }
            ),
        ]
    )
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [(r.id, r.name, r.output, r.is_error) for r in results] == [
        ("t1", "Read", "line 1\n[image]", False)
    ]


def test_text_mode_keeps_the_answer_lines() -> None:
    lines = [b"First line", b"", b"  indented", b"last"]
    events, result = run(lines, output="text")
    assert result.content == "First line\n\n  indented\nlast"
    assert text_of(events) == result.content


def test_captured_text_output_keeps_blank_lines() -> None:
    req = RunRequest(prompt="hi", backend="claude", output="text")
    out = RunOutput(request=req, exit_code=0, stdout=b"a\n\nb\n")
    assert ClaudeBackend().parse_output(out).content == "a\n\nb"


def without_since_field(name: str) -> bytes:
    raw = load(name).stdout.splitlines()[-1]
    obj = json.loads(raw)
    del obj["model_usage_since_last_result"]
    return json.dumps(obj).encode()


def test_cumulative_cost_on_resume_is_reduced_to_this_turn() -> None:
    # 2.1.330 reports the session's running total on resume; without its per-turn field the
    # previous turn's total (kept in backend_state) is subtracted
    result_obj = without_since_field("claude-2.1.330__resume_by_id_stream_json")
    previous = {"cumulative_cost_usd": 0.0001464, "kept": "yes"}
    events, result = run([result_obj], resume_session_id=SID, resume_state=previous)
    usage = [e for e in events if isinstance(e, UsageReport)]
    assert usage[0].cost_usd is not None
    assert abs(usage[0].cost_usd - 0.0001464) < 1e-12
    assert result.usage is not None
    assert result.usage.input_tokens == 16  # this turn's tokens, not the session's 32
    assert result.backend_state["cumulative_cost_usd"] == 0.00029279999999999996
    assert result.backend_state["kept"] == "yes"


def test_backend_state_is_kept_when_a_turn_fails_early() -> None:
    _, result = run(
        [],
        exit_code=1,
        stderr="No conversation found with session ID: x",
        resume_state={"cumulative_cost_usd": 0.5},
    )
    assert result.backend_state == {"cumulative_cost_usd": 0.5}


def test_stderr_noise_before_the_real_failure() -> None:
    stderr = (
        "Warning: something cosmetic\nerror: unknown option '--frobnicate'\n(Did you mean ...)\n"
    )
    _, result = run([], exit_code=1, stderr=stderr)
    assert result.error is not None
    assert result.error.startswith("error: unknown option '--frobnicate'")
    assert result.error_code == "invalid_request"


def test_a_crash_without_a_message() -> None:
    _, result = run([], exit_code=3)
    assert (result.error, result.error_code) == (
        "claude exited with code 3 without a message",
        "crashed",
    )


# a small alphabet plus the words the parser looks for (st.text() costs seconds to set up)
KEYWORDS = (
    *("text", "text_delta", "tool_use", "tool_result", "content", "delta", "id", "<synthetic>"),
    *("message_start", "content_block_delta", "message_stop", "success", "error_max_turns"),
)
words = st.text(alphabet="ab xy-_:é\n\x00{}", max_size=12) | st.sampled_from(KEYWORDS)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | words,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(words, children, max_size=4),
    max_leaves=12,
)
kinds = st.sampled_from(["system", "stream_event", "assistant", "user", "result", "other"])
claude_like = st.builds(
    lambda kind, extra, nested: {"type": kind, **extra, "message": nested, "event": nested},
    kinds,
    st.dictionaries(
        st.sampled_from(
            [
                "session_id",
                "subtype",
                "is_error",
                "result",
                "usage",
                "modelUsage",
                "error",
                "parent_tool_use_id",
                "errors",
                "permission_denials",
                "num_turns",
                "total_cost_usd",
                "model_usage_since_last_result",
                "api_error_status",
            ]
        ),
        json_values,
    ),
    json_values,
)
outputs = st.sampled_from(["stream", "json", "text"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8), outputs, st.integers(-15, 255))
def test_arbitrary_bytes_never_raise(raw: list[bytes], output: OutputMode, exit_code: int) -> None:
    events, result = run(raw, output=output, exit_code=exit_code, stderr="x")
    assert isinstance(result, Result)
    assert all(isinstance(e, get_args(Event)) for e in events)


@settings(max_examples=120, deadline=None)
@given(st.lists(claude_like, max_size=6), st.integers(0, 2))
def test_claude_shaped_garbage_never_raises(objs: list[dict[str, Any]], exit_code: int) -> None:
    lines = [json.dumps(o, allow_nan=True).encode() for o in objs]
    _, result = run(lines, exit_code=exit_code)
    assert isinstance(result, Result)
    # a captured (non-streamed) run of the same output parses the same way
    req = RunRequest(prompt="hi", backend="claude")
    captured = ClaudeBackend().parse_output(
        RunOutput(request=req, exit_code=exit_code, stdout=b"\n".join(lines))
    )
    assert captured == result


def test_an_abandoned_stream_is_completed_by_its_refetch_without_repeats() -> None:
    # 2.1.330: a stream that breaks off ends with message_stop + abandoned_blocks; the CLI then
    # fetches the whole message again without streaming, under a new id
    stop = line(
        {
            "type": "stream_event",
            "event": {"type": "message_stop"},
            "parent_tool_use_id": None,
            "abandoned_blocks": {"api_message_id": "m1", "from_block_index": 1},
        }
    )
    events, result = run(
        [
            message_start("m1"),
            delta("Intro."),
            assistant("m1", text_block("Intro.")),
            delta(" Par"),
            stop,
            assistant("m2", text_block("Intro."), text_block(" Part two")),
            result_line(result="Intro. Part two"),
        ]
    )
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Intro.", " Par", "t two"]
    assert result.content == "Intro. Part two"
