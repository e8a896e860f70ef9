"""Every recorded run of the real ``claude`` CLI, replayed through the backend.

For each transcript: the events a streaming consumer sees, and the final result a user gets
(answer, session id, per-turn usage and cost, error and its code). The same run parsed from the
captured stdout in one piece must give the same result.
"""

from __future__ import annotations

from typing import Any

import pytest
from claude_expectations import EXPECTED
from claude_transcripts import load, names, replay_captured, replay_streamed
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
from clinvoker_claude.backend import ClaudeBackend

VERSION_TRANSCRIPTS = [n for n in names() if "_version_" in n]
RUN_TRANSCRIPTS = [n for n in names() if n not in VERSION_TRANSCRIPTS]


def summary(event: Event) -> tuple[Any, ...]:
    """What a user would notice about one event."""
    if isinstance(event, SessionStarted):
        return ("session", event.session_id)
    if isinstance(event, TextDelta):
        return ("delta", event.text)
    if isinstance(event, Message):
        return ("message", event.text)
    if isinstance(event, ToolUse):
        return ("tool_use", event.name, event.input.get("command"))
    if isinstance(event, ToolResult):
        first_sentence = event.output.split(". ")[0]
        if first_sentence != event.output:
            first_sentence += "."
        return ("tool_result", event.name, event.is_error, first_sentence)
    if isinstance(event, UsageReport):
        u = event.usage
        return ("usage", u.input_tokens, u.output_tokens, u.cached_tokens, u.cache_write_tokens)
    if isinstance(event, Error):
        return ("error", event.code, event.fatal)
    return (type(event).__name__,)


def test_every_transcript_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(RUN_TRANSCRIPTS)


@pytest.mark.parametrize("name", RUN_TRANSCRIPTS)
def test_replay(name: str) -> None:
    transcript = load(name)
    expect = EXPECTED[name]
    events, result = replay_streamed(transcript)

    assert [summary(e) for e in events] == expect.events
    assert result.content == expect.content
    assert result.session_id == expect.session_id
    assert result.exit_code == transcript.exit_code
    if expect.usage is None:
        assert result.usage is None
    else:
        assert result.usage is not None
        u = result.usage
        assert (u.input_tokens, u.output_tokens, u.cached_tokens, u.cache_write_tokens) == (
            expect.usage
        )
        assert u.total_tokens == expect.usage[0] + expect.usage[1]
    assert result.cost_usd == (None if expect.cost is None else pytest.approx(expect.cost))
    if expect.error is None:
        assert result.error is None
        assert result.error_code is None
        assert result.ok == (transcript.exit_code == 0)
    else:
        assert result.error is not None
        assert result.error.startswith(expect.error), result.error
        assert result.error_code == expect.code
        assert not result.ok
    for key, value in expect.details.items():
        assert getattr(result, key) == value, key


@pytest.mark.parametrize("name", RUN_TRANSCRIPTS)
def test_captured_output_gives_the_same_result(name: str) -> None:
    transcript = load(name)
    _, streamed = replay_streamed(transcript)
    assert replay_captured(transcript) == streamed


@pytest.mark.parametrize("name", VERSION_TRANSCRIPTS)
def test_version_output(name: str) -> None:
    backend = ClaudeBackend()
    version = backend.parse_version(load(name).stdout.decode())
    assert version == "2.1.197"
    assert backend.is_tested_version(version)


def test_the_2_1_330_version_is_in_the_tested_range() -> None:
    _, result = replay_streamed(load("claude-2.1.330__resume_by_id_stream_json"))
    version = result.backend_state["claude_code_version"]
    assert version == "2.1.330"
    assert ClaudeBackend().is_tested_version(version)
