"""Each backend's parser, fed arbitrary bytes and near-valid JSON: it never raises, and what it
produces is well-typed (every event survives a strict msgspec round trip; the result too).

Two strategies per backend: raw bytes (any line a broken CLI could print), and JSON objects
built from the keys and ``type`` values the real CLIs use, nested at random with values of
the wrong type — which reaches much deeper into the parsers than random bytes do.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from clinvoker.backend import Backend
from clinvoker.events import Event
from clinvoker.plugins import get_host
from clinvoker.request import ParseState, RunOutput, RunRequest
from clinvoker.result import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BACKENDS = ("claude", "codex", "gemini")
OUTPUTS = ("stream", "json", "text")

KEYS = (
    "type", "subtype", "session_id", "thread_id", "model", "message", "content", "text", "delta",
    "event", "index", "content_block", "item", "id", "usage", "result", "stats", "status", "role",
    "name", "input", "output", "is_error", "tool_use_id", "tool_id", "tool_name", "parameters",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cached_input_tokens", "cached",
    "total_cost_usd", "num_turns", "stop_reason", "permission_denials", "error", "errors", "code",
    "severity", "models", "aggregated_output", "exit_code", "changes", "command", "cwd",
    "api_error_status", "parent_tool_use_id", "response", "timestamp", "duration_ms",
)  # fmt: skip
TYPES = (
    "system", "init", "assistant", "user", "result", "stream_event", "message_start",
    "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
    "message_stop", "text", "text_delta", "input_json_delta", "thinking", "tool_use",
    "tool_result", "thread.started", "turn.started", "turn.completed", "turn.failed",
    "item.started", "item.updated", "item.completed", "agent_message", "reasoning",
    "command_execution", "file_change", "mcp_tool_call", "web_search", "error", "message",
    "success", "error_max_turns", "warning",
)  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(TYPES)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=6)
    ),
    max_leaves=25,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8).map(
    lambda d: {"type": d.pop("type", "assistant"), **d}
)


def _line(value: Any) -> bytes:
    try:
        return msgspec.json.encode(value)
    except (OverflowError, TypeError, ValueError):  # e.g. an integer beyond 64 bits
        return repr(value).encode()


lines = st.one_of(
    st.binary(max_size=300),
    objects.map(_line),
    objects.map(lambda o: _line(o)[: max(1, len(_line(o)) // 2)]),  # truncated mid-object
)
runs = st.lists(lines, max_size=12)


def strict(event: Event) -> None:
    """The event has the declared field types (a strict decode of its encoding succeeds)."""
    assert msgspec.json.decode(msgspec.json.encode(event), type=Event) == event


def feed(backend: Backend, request: RunRequest, chunk: list[bytes], exit_code: int) -> Result:
    state = ParseState(request)
    events: list[Event] = []
    if request.output == "stream":
        for line in chunk:
            for event in backend.parse_stream(line, state):
                strict(event)
                events.append(event)
    output = RunOutput(
        request=request,
        exit_code=exit_code,
        stderr="",
        stdout=None if request.output == "stream" else b"\n".join(chunk),
        events=tuple(events),
        state=state,
    )
    result = backend.parse_output(output)
    msgspec.json.decode(msgspec.json.encode(result), type=Result)
    return result


FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("name", BACKENDS)
def test_a_parser_never_raises_on_what_a_broken_cli_prints(name: str, output: str) -> None:
    backend = get_host().backend(name)
    request = RunRequest(prompt="hi", backend=name, output=output)  # type: ignore[arg-type]

    @FUZZ
    @given(chunk=runs, exit_code=st.sampled_from([0, 1, 2, 124, 137, 139]))
    def check(chunk: list[bytes], exit_code: int) -> None:
        result = feed(backend, request, chunk, exit_code)
        if exit_code != 0:
            assert not result.ok  # a failed CLI never looks like a success

    check()


@pytest.mark.parametrize("name", BACKENDS)
def test_one_huge_line_is_parsed_without_blowing_up(name: str) -> None:
    backend = get_host().backend(name)
    request = RunRequest(prompt="hi", backend=name)
    garbage = b'{"type":"assistant","message":{"content":[{"type":"text","text":"' + b"A" * (
        16 * 1024 * 1024
    )
    result = feed(backend, request, [garbage], 0)
    assert not result.ok
    assert len(result.error or "") < 4096
