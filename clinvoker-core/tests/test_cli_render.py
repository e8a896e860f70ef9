"""The renderers behind ``-o text | json | stream-json`` and ``--native``."""

from __future__ import annotations

import io
import json

from clinvoker.cli.render import (
    JsonRenderer,
    NativeRenderer,
    StreamJsonRenderer,
    TextRenderer,
    make_renderer,
    result_object,
)
from clinvoker.events import Done, Error, Message, SessionStarted, TextDelta, UsageReport
from clinvoker.result import Result, Usage

USAGE = Usage(input_tokens=10, output_tokens=5, cached_tokens=4)
OK = Result(
    backend="claude",
    content="Hello world",
    session_id="s-1",
    clinvk_session_id="c" * 32,
    model="sonnet",
    usage=USAGE,
    cost_usd=0.002,
    duration_s=1.23456,
)
EVENTS = [
    SessionStarted(seq=1, session_id="s-1", model="sonnet"),
    TextDelta(seq=2, text="Hello"),
    TextDelta(seq=3, text=" world"),
    Message(seq=4, text="Hello world"),
    UsageReport(seq=5, usage=USAGE, cost_usd=0.002),
    Done(seq=6, result=OK),
]


class Recorder(io.StringIO):
    """A stream that remembers what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def feed(renderer: object, events: list[object], result: Result) -> None:
    for event in events:
        renderer.event(event)  # type: ignore[attr-defined]
    renderer.finish(result)  # type: ignore[attr-defined]


def test_text_streams_each_delta_as_it_arrives() -> None:
    out, err = Recorder(), io.StringIO()
    renderer = TextRenderer(out, err, backend="claude")
    renderer.event(EVENTS[1])
    assert out.flushed[-1] == "Hello"
    renderer.event(EVENTS[2])
    assert out.flushed[-1] == "Hello world"
    renderer.event(EVENTS[3])
    renderer.finish(OK)
    assert out.getvalue() == "Hello world\n"
    assert err.getvalue() == ""


def test_text_prints_the_content_when_nothing_was_streamed() -> None:
    out, err = io.StringIO(), io.StringIO()
    feed(TextRenderer(out, err, backend="claude"), [], OK)
    assert out.getvalue() == "Hello world\n"


def test_text_shows_tokens_and_timing_when_configured() -> None:
    out, err = io.StringIO(), io.StringIO()
    feed(TextRenderer(out, err, backend="claude", show_tokens=True, show_timing=True), EVENTS, OK)
    assert out.getvalue() == ("Hello world\n\nTokens: 15 (input: 10, output: 5)\nTime: 1.23s\n")


def test_text_reports_a_backend_error_on_stderr() -> None:
    failed = Result(backend="codex", content="partial", error="model overloaded", exit_code=1)
    out, err = io.StringIO(), io.StringIO()
    feed(TextRenderer(out, err, backend="codex"), [TextDelta(seq=1, text="partial")], failed)
    assert out.getvalue() == "partial\n"
    assert err.getvalue() == "Error [codex]: model overloaded\n"


def test_text_shows_non_fatal_errors_as_warnings() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = TextRenderer(out, err, backend="gemini")
    renderer.event(Error(seq=1, message="retrying in 2s", fatal=False))
    assert err.getvalue() == "Warning [gemini]: retrying in 2s\n"


def test_json_is_one_documented_object() -> None:
    out = io.StringIO()
    feed(JsonRenderer(out, io.StringIO()), EVENTS, OK)
    data = json.loads(out.getvalue())
    assert data == {
        "backend": "claude",
        "content": "Hello world",
        "model": "sonnet",
        "session_id": "s-1",
        "clinvk_session_id": "c" * 32,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cached_tokens": 4,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "total_tokens": 15,
        },
        "cost_usd": 0.002,
        "duration_seconds": 1.235,
        "exit_code": 0,
        "error": None,
        "error_code": None,
        "stop_reason": None,
        "num_turns": None,
        "permission_denials": [],
        "warnings": [],
    }


def test_json_keeps_every_key_when_values_are_unknown() -> None:
    bare = result_object(Result(backend="gemini"))
    assert set(bare) == set(result_object(OK))
    assert bare["usage"] is None


def test_stream_json_is_one_enveloped_event_per_line() -> None:
    out = io.StringIO()
    feed(StreamJsonRenderer(out, io.StringIO()), EVENTS, OK)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(x["v"], x["type"], x["seq"]) for x in lines] == [
        (1, "session_started", 1),
        (1, "text_delta", 2),
        (1, "text_delta", 3),
        (1, "message", 4),
        (1, "usage", 5),
        (1, "done", 6),
    ]
    assert lines[1]["text"] == "Hello"
    assert lines[-1]["result"] == result_object(OK)


def test_native_prints_the_cli_lines_unchanged() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = NativeRenderer(out, err)
    renderer.native_line(b'{"type":"system","subtype":"init"}')
    renderer.native_line('{"text":"h\u00e9"}'.encode())
    feed(renderer, EVENTS, OK)
    assert out.getvalue() == '{"type":"system","subtype":"init"}\n{"text":"h\u00e9"}\n'


def test_make_renderer_picks_by_format() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert isinstance(make_renderer("text", out=out, err=err, backend="x"), TextRenderer)
    assert isinstance(make_renderer("json", out=out, err=err, backend="x"), JsonRenderer)
    assert isinstance(
        make_renderer("stream-json", out=out, err=err, backend="x"), StreamJsonRenderer
    )
    assert isinstance(
        make_renderer("stream-json", out=out, err=err, backend="x", native=True), NativeRenderer
    )
