"""Stream situations the recorded transcripts do not cover, written as gemini 0.61.0 emits them.

The lines below follow gemini's stream-json formatter; the loop-detection run was observed with
the real CLI (a model that echoed a 20 kB prompt back).
"""

from __future__ import annotations

import json
from typing import Any

from clinvoker.events import Error, Event, TextDelta, ToolResult, UsageReport
from clinvoker.request import OutputMode, ParseState, RunOutput, RunRequest
from clinvoker.result import Result
from clinvoker_gemini.backend import GeminiBackend

gemini = GeminiBackend()
INIT = {"type": "init", "session_id": "s-1", "model": "gemini-2.5-pro"}
STATS = {"total_tokens": 18, "input_tokens": 11, "output_tokens": 7, "cached": 3, "input": 8}
SUCCESS = {"type": "result", "status": "success", "stats": STATS}


def delta(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": text, "delta": True}


def replay(
    *lines: dict[str, Any] | bytes,
    exit_code: int = 0,
    stderr: str = "",
    output: OutputMode = "stream",
) -> tuple[list[Event], Result]:
    request = RunRequest(prompt="p", backend="gemini", output=output)
    state = ParseState(request)
    events: list[Event] = []
    for line in lines:
        raw = line if isinstance(line, bytes) else json.dumps(line).encode()
        events += gemini.parse_stream(raw, state)
    result = gemini.parse_output(
        RunOutput(
            request=request, exit_code=exit_code, stderr=stderr, events=tuple(events), state=state
        )
    )
    return events, result


def fatal(events: list[Event]) -> list[Error]:
    return [e for e in events if isinstance(e, Error) and e.fatal]


def test_loop_detection_stops_the_run_and_is_reported_as_a_failure() -> None:
    events, result = replay(
        INIT,
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # raw text gemini also printed
        {"type": "error", "severity": "warning", "message": "Loop detected, stopping execution"},
        {"type": "result", "status": "success", "stats": {**STATS, "models": {}}},
    )
    assert [e.code for e in fatal(events)] == ["loop_detected"]
    assert result.error_code == "loop_detected"
    assert result.error is not None
    assert "Loop detected" in result.error


def test_hitting_the_session_turn_limit_is_max_turns() -> None:
    _, result = replay(
        INIT,
        delta("partial"),
        {"type": "error", "severity": "error", "message": "Maximum session turns exceeded"},
        SUCCESS,
    )
    assert result.error_code == "max_turns"
    assert result.stop_reason == "max_turns"
    assert result.content == "partial"


def test_the_configured_turn_limit_error_is_max_turns() -> None:
    message = (
        "Reached max session turns for this session. Increase the number of turns by "
        "specifying maxSessionTurns in settings.json."
    )
    err = {"type": "FatalTurnLimitedError", "message": message}
    _, result = replay(INIT, {"type": "result", "status": "error", "error": err}, exit_code=53)
    assert result.error_code == "max_turns"
    assert result.error is not None
    assert result.error.startswith("Reached max session turns")


def test_warnings_do_not_fail_the_run() -> None:
    events, result = replay(
        INIT,
        {
            "type": "error",
            "severity": "warning",
            "message": "Agent execution blocked: hook said no",
        },
        delta("fine"),
        SUCCESS,
    )
    warnings = [e for e in events if isinstance(e, Error)]
    assert [(w.message, w.fatal) for w in warnings] == [
        ("Agent execution blocked: hook said no", False)
    ]
    assert result.ok
    assert result.content == "fine"


def test_an_error_notice_followed_by_success_is_only_a_warning() -> None:
    events, result = replay(
        INIT,
        {"type": "error", "severity": "error", "message": "Quota exceeded, retrying"},
        delta("answer"),
        SUCCESS,
    )
    assert fatal(events) == []
    assert any(isinstance(e, Error) and e.message == "Quota exceeded, retrying" for e in events)
    assert result.ok


def test_a_stream_that_stops_without_a_result_is_not_a_clean_answer() -> None:
    _, result = replay(INIT, delta("Hello"), delta(" fr"))
    assert result.content == "Hello fr"
    assert result.error_code == "malformed_output"
    assert not result.ok


def test_an_error_notice_without_a_result_is_the_failure() -> None:
    _, result = replay(
        INIT,
        {
            "type": "error",
            "severity": "error",
            "message": "Model stream ended without a finish reason.",
        },
    )
    assert result.error_code == "incomplete_response"


def test_a_crash_without_output_reports_the_exit_code() -> None:
    _, result = replay(exit_code=3, stderr="")
    assert result.error == "gemini exited with code 3"
    assert result.error_code == "crashed"


def test_a_fatal_tool_error_exits_54_with_its_message() -> None:
    err = {
        "type": "no_space_left",
        "message": "Error executing tool write_file: No space left on device",
    }
    _, result = replay(INIT, {"type": "result", "status": "error", "error": err}, exit_code=54)
    assert result.error_code == "tool_failed"
    assert result.error is not None
    assert "No space left on device" in result.error


def test_tool_calls_refused_by_policy_are_denials() -> None:
    events, result = replay(
        INIT,
        {
            "type": "tool_use",
            "tool_name": "run_shell_command",
            "tool_id": "t1",
            "parameters": {"command": "rm x"},
        },
        {
            "type": "tool_result",
            "tool_id": "t1",
            "status": "error",
            "output": "",
            "error": {"type": "policy_violation", "message": "Tool execution denied by policy."},
        },
        {"type": "tool_use", "tool_name": "read_file", "tool_id": "t2", "parameters": {}},
        {
            "type": "tool_result",
            "tool_id": "t2",
            "status": "error",
            "output": "",
            "error": {"type": "file_not_found", "message": "File not found: a.txt"},
        },
        SUCCESS,
    )
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [(r.name, r.output, r.is_error) for r in results] == [
        ("run_shell_command", "Tool execution denied by policy.", True),
        ("read_file", "File not found: a.txt", True),
    ]
    assert result.permission_denials == ("run_shell_command",)  # a missing file is not a denial


def test_thinking_tokens_count_as_output_and_reasoning() -> None:
    stats = {"total_tokens": 30, "input_tokens": 11, "output_tokens": 7, "cached": 3}
    events, result = replay(INIT, {"type": "result", "status": "success", "stats": stats})
    (usage,) = [e.usage for e in events if isinstance(e, UsageReport)]
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (11, 19, 12)
    assert usage.total_tokens == 30  # equals gemini's own total
    assert result.usage == usage


def test_json_mode_thoughts_and_warnings() -> None:
    doc = {
        "session_id": "s-2",
        "response": "ok",
        "warnings": ["Agent execution blocked: x"],
        "stats": {
            "models": {
                "gemini-3.5-flash-lite": {
                    "tokens": {"prompt": 5, "candidates": 1, "cached": 0, "thoughts": 0},
                    "roles": {"utility_router": {}},
                },
                "gemini-3-pro-preview": {
                    "tokens": {"prompt": 11, "candidates": 7, "cached": 3, "thoughts": 4},
                    "roles": {"main": {}},
                },
            }
        },
    }
    request = RunRequest(prompt="p", backend="gemini", output="json")
    result = gemini.parse_output(
        RunOutput(request=request, exit_code=0, stdout=json.dumps(doc, indent=2).encode())
    )
    assert result.ok
    assert result.content == "ok"
    assert result.model == "gemini-3-pro-preview"  # the model that answered, not the router
    assert result.usage is not None
    assert (
        result.usage.input_tokens,
        result.usage.output_tokens,
        result.usage.reasoning_tokens,
    ) == (16, 12, 4)


def test_text_mode_keeps_blank_lines_and_drops_the_final_newline() -> None:
    events, result = replay(b"first", b"", b"third", output="text")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "first\n\nthird"
    assert result.content == "first\n\nthird"


def test_text_mode_reports_the_preset_session_id() -> None:
    request = RunRequest(prompt="p", backend="gemini", output="text", new_session_id="s-9")
    result = gemini.parse_output(RunOutput(request=request, exit_code=0, stdout=b"hi\n"))
    assert (result.content, result.session_id) == ("hi", "s-9")


def test_an_untrusted_folder_is_a_clear_error() -> None:
    stderr = "\x1b[31mGemini CLI is not running in a trusted directory. To proceed, use `--skip-trust`.\x1b[0m\n"
    _, result = replay(exit_code=55, stderr=stderr)
    assert result.error_code == "permission_denied"
    assert result.error is not None
    assert result.error.startswith("Gemini CLI is not running in a trusted directory")


def test_an_empty_prompt_is_explained() -> None:
    request = RunRequest(prompt="", backend="gemini")
    assert gemini.build_command(request).argv[-2:] == ("--prompt", "")
    stderr = (
        "Ripgrep is not available. Falling back to GrepTool.\n"
        "No input provided via stdin. Input can be provided by piping data into gemini or using "
        "the --prompt option.\n"
    )
    _, result = replay(exit_code=42, stderr=stderr)
    assert result.error_code == "invalid_request"
    assert result.error is not None
    assert result.error.startswith("gemini was given an empty prompt")


def test_the_result_names_the_model_an_alias_resolved_to() -> None:
    stats = {**STATS, "models": {"gemini-3.1-pro-preview": STATS}}
    _, result = replay(
        {**INIT, "model": "pro"},
        delta("hi"),
        {"type": "result", "status": "success", "stats": stats},
    )
    assert result.model == "gemini-3.1-pro-preview"
    routed = {**STATS, "models": {"gemini-3.5-flash-lite": STATS, "gemini-3.8-flash": STATS}}
    _, result = replay(
        {**INIT, "model": "auto"}, {"type": "result", "status": "success", "stats": routed}
    )
    assert result.model == "auto"  # router + answer: which one "answered" is not knowable
