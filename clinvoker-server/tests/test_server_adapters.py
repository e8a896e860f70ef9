"""The streaming adapters are pure functions of the event stream: check their wire output."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable

import server_specs as specs
from clinvoker.events import Done, Error, Event, Message, SessionStarted, TextDelta, UsageReport
from clinvoker.result import Result, Usage
from clinvoker_server.anthropic_messages import message_events
from clinvoker_server.native_stream import native_frames
from clinvoker_server.openai_chat import chat_chunks
from clinvoker_server.openai_responses import _Snapshot, response_events
from clinvoker_server.openai_wire import ResponsesRequest

USAGE = Usage(input_tokens=12, output_tokens=5, cached_tokens=3)
OK = [
    SessionStarted(seq=1, session_id="s-1", model="m"),
    TextDelta(seq=2, text="Hel"),
    TextDelta(seq=3, text="lo"),
    Message(seq=4, text="Hello"),
    UsageReport(seq=5, usage=USAGE),
    Done(seq=6, result=Result(backend="stub", content="Hello", usage=USAGE)),
]
FAILED = [
    TextDelta(seq=1, text="par"),
    Error(seq=2, message="the CLI died", code="crashed"),
    Done(
        seq=3,
        result=Result(
            backend="stub", content="par", exit_code=3, error="the CLI died", error_code="crashed"
        ),
    ),
]


async def _aiter(events: Iterable[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event


def collect(frames: AsyncIterator[bytes]) -> list[bytes]:
    async def run() -> list[bytes]:
        return [f async for f in frames]

    return asyncio.run(run())


def sse(frames: list[bytes]) -> list[tuple[str | None, str]]:
    """(event name, data) of each frame."""
    out = []
    for frame in frames:
        assert frame.endswith(b"\n\n")
        name, data = None, None
        for line in frame.decode().strip("\n").split("\n"):
            key, _, value = line.partition(": ")
            if key == "event":
                name = value
            elif key == "data":
                data = value
        out.append((name, data))
    return out


def test_chat_chunks_follow_the_golden_stream():
    frames = sse(
        collect(
            chat_chunks(
                _aiter(OK),
                chunk_id="chatcmpl-1",
                created=7,
                model="stub",
                prompt="hi",
                include_usage=True,
            )
        )
    )
    assert frames[-1] == (None, "[DONE]")
    chunks = [json.loads(d) for _, d in frames[:-1]]
    for chunk in chunks:
        specs.openai(chunk, "CreateChatCompletionStreamResponse")
        assert (chunk["id"], chunk["object"], chunk["created"], chunk["model"]) == (
            "chatcmpl-1",
            "chat.completion.chunk",
            7,
            "stub",
        )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["Hel", "lo"]
    assert chunks[3]["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }
    assert chunks[4]["choices"] == []
    assert chunks[4]["usage"]["prompt_tokens"] == 12
    assert chunks[4]["usage"]["total_tokens"] == 17


def test_chat_failure_ends_with_an_error_event_and_no_done():
    frames = sse(
        collect(
            chat_chunks(
                _aiter(FAILED),
                chunk_id="c",
                created=1,
                model="stub",
                prompt="hi",
                include_usage=True,
            )
        )
    )
    last = json.loads(frames[-1][1])
    specs.openai(last, "ErrorResponse")
    assert last["error"]["type"] == "server_error"
    assert "the CLI died" in last["error"]["message"]
    assert all(d != "[DONE]" for _, d in frames)


def test_anthropic_events_have_event_lines_and_usage():
    frames = sse(collect(message_events(_aiter(OK), message_id="msg_1", model="stub", prompt="hi")))
    names = [n for n, _ in frames]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for name, data in frames:
        event = json.loads(data)
        assert event["type"] == name
        specs.anthropic(event, "RawMessageStreamEvent")
    start = json.loads(frames[0][1])["message"]
    assert start["content"] == []
    assert start["usage"]["input_tokens"] >= 1
    delta = json.loads(frames[5][1])
    assert delta["usage"] == {
        "input_tokens": 12,
        "output_tokens": 5,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 3,
    }


def test_anthropic_failure_is_an_error_event():
    frames = sse(collect(message_events(_aiter(FAILED), message_id="m", model="stub", prompt="hi")))
    name, data = frames[-1]
    assert name == "error"
    body = json.loads(data)
    assert body["error"]["type"] == "api_error"
    assert "message_stop" not in [n for n, _ in frames]


def test_responses_stream_is_the_full_sequence():
    snap = _Snapshot("resp_1", 5, "stub", ResponsesRequest(model="stub", input="hi"))
    frames = sse(collect(response_events(_aiter(OK), snap, "hi")))
    events = [json.loads(d) for _, d in frames]
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for (name, _), event in zip(frames, events, strict=True):
        assert name == event["type"]
        specs.openai_event(event)
    assert "usage" not in events[0]["response"]
    assert events[-1]["response"]["usage"]["input_tokens_details"] == {
        "cached_tokens": 3,
        "cache_write_tokens": 0,
    }


def test_responses_failure_is_error_then_failed():
    snap = _Snapshot("resp_1", 5, "stub", ResponsesRequest(model="stub", input="hi"))
    events = [json.loads(d) for _, d in sse(collect(response_events(_aiter(FAILED), snap, "hi")))]
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    for event in events[-2:]:
        specs.openai_event(event)


def test_native_ndjson_uses_the_go_envelope_and_skips_repeated_messages():
    lines = collect(native_frames(_aiter(OK), backend="stub", session_id="abc", sse=False))
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events] == ["init", "message", "message", "token_usage", "done"]
    assert all(e["backend"] == "stub" and e["session_id"] == "abc" for e in events)
    assert events[1]["content"] == {"text": "Hel", "role": "assistant", "is_partial": True}
    assert events[-1]["content"]["output"] == "Hello"
    assert [e["sequence"] for e in events] == [1, 2, 3, 5, 6]
