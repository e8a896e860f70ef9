"""``POST /openai/v1/responses``: a ``Response`` object, or its full SSE event sequence.

Stream (each frame ``event: <type>`` + data with the same ``type`` and ``sequence_number`` 0, 1,
2, ...): ``response.created`` → ``response.in_progress`` → ``response.output_item.added`` →
``response.content_part.added`` → ``response.output_text.delta``… → ``response.output_text.done``
→ ``response.content_part.done`` → ``response.output_item.done`` → ``response.completed``. On a
backend failure: an ``error`` event, then ``response.failed``. Ids start with ``resp_`` (LangChain
treats those as chainable).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from clinvoker.events import Done, Error, Event
from clinvoker.result import Result
from starlette.requests import Request
from starlette.responses import Response

from clinvoker_server.compat import (
    TokenCounts,
    collect,
    failure_of,
    new_id,
    start_run,
    text_and_outcome,
    token_counts,
)
from clinvoker_server.conversation import flatten, join_system, text_of
from clinvoker_server.errors import Family
from clinvoker_server.jsonio import encode, json_response, prepare_decoders, read_json
from clinvoker_server.openai_wire import (
    OutputMessage,
    OutputText,
    ResponseError,
    ResponseObject,
    ResponsesRequest,
    ResponseUsage,
)
from clinvoker_server.sse import KEEPALIVE_COMMENT, StreamResponse, sse_event
from clinvoker_server.state import server_of

__all__ = ["create_response", "prompt_of", "response_events"]

prepare_decoders(ResponsesRequest)


def prompt_of(body: ResponsesRequest) -> tuple[str, str | None]:
    """The flattened prompt and the system prompt (``instructions`` + system items)."""
    system: list[str] = [body.instructions] if body.instructions else []
    if isinstance(body.input, str):
        return flatten([("user", body.input)]), join_system(system)
    turns: list[tuple[str, str]] = []
    for i, item in enumerate(body.input):
        kind = item.get("type", "message")
        param = f"input[{i}]"
        if kind == "message" or "role" in item:
            role = item.get("role", "user")
            text = text_of(item.get("content"), f"{param}.content")
            if role in ("system", "developer"):
                system.append(text)
            elif role in ("user", "assistant"):
                turns.append((role, text))
        elif kind == "function_call_output":
            turns.append(("user", f"(tool output)\n{item.get('output', '')}"))
    return flatten(turns), join_system(system)


def _usage(counts: TokenCounts) -> ResponseUsage:
    return ResponseUsage(
        input_tokens=counts.input,
        output_tokens=counts.output,
        total_tokens=counts.total,
        input_tokens_details={
            "cached_tokens": counts.cached,
            "cache_write_tokens": counts.cache_write,
        },
        output_tokens_details={"reasoning_tokens": counts.reasoning},
    )


class _Snapshot:
    """Builds the ``Response`` object at each stage of one response."""

    def __init__(self, response_id: str, created: int, model: str, body: ResponsesRequest) -> None:
        self.response_id = response_id
        self.created = created
        self.model = model
        self.instructions = body.instructions
        self.metadata = dict(body.metadata or {})

    def build(self, status: str, output: list[OutputMessage], **extra: Any) -> ResponseObject:
        return ResponseObject(
            id=self.response_id,
            created_at=self.created,
            model=self.model,
            status=status,
            output=output,
            instructions=self.instructions,
            metadata=self.metadata,
            **extra,
        )


def _message(item_id: str, status: str, text: str | None) -> OutputMessage:
    content = [] if text is None else [OutputText(text=text)]
    return OutputMessage(id=item_id, status=status, content=content)


async def response_events(
    events: AsyncIterator[Event], snapshot: _Snapshot, prompt: str
) -> AsyncIterator[bytes]:
    """The SSE frames of a streamed response, from a run's normalized events."""
    seq = 0
    item_id = new_id("msg_")

    def frame(kind: str, **fields: Any) -> bytes:
        nonlocal seq
        payload = encode({"type": kind, "sequence_number": seq, **fields})
        seq += 1
        return sse_event(kind, payload)

    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    yield frame("response.created", response=snapshot.build("in_progress", []))
    yield frame("response.in_progress", response=snapshot.build("in_progress", []))
    yield frame(
        "response.output_item.added", output_index=0, item=_message(item_id, "in_progress", None)
    )
    yield frame("response.content_part.added", **where, part=OutputText(text=""))
    texts: list[str] = []
    result: Result | None = None
    fatal: Error | None = None
    async for item in text_and_outcome(events):
        if isinstance(item, str):
            texts.append(item)
            yield frame("response.output_text.delta", **where, delta=item, logprobs=[])
        elif isinstance(item, Done):
            result = item.result
        else:
            fatal = item
    text = "".join(texts)
    failure = failure_of(result, fatal)
    if failure is not None:
        yield frame("error", code=failure.code, message=str(failure), param=None)
        failed = snapshot.build(
            "failed",
            [_message(item_id, "incomplete", text)],
            error=ResponseError(code="server_error", message=str(failure)),
        )
        yield frame("response.failed", response=failed)
        return
    yield frame("response.output_text.done", **where, text=text, logprobs=[])
    yield frame("response.content_part.done", **where, part=OutputText(text=text))
    done_item = _message(item_id, "completed", text)
    yield frame("response.output_item.done", output_index=0, item=done_item)
    completed = snapshot.build(
        "completed",
        [done_item],
        usage=_usage(token_counts(result, prompt, text)),
        completed_at=int(time.time()),
    )
    yield frame("response.completed", response=completed)


async def create_response(request: Request) -> Response | StreamResponse:
    """The route handler."""
    body = await read_json(request, ResponsesRequest, Family.OPENAI)
    prompt, system = prompt_of(body)
    run = await start_run(request, body.model, prompt, system)
    snapshot = _Snapshot(new_id("resp_"), int(time.time()), body.model, body)
    if body.stream:
        return StreamResponse(
            response_events(run.events(), snapshot, prompt),
            media_type="text/event-stream",
            keepalive=server_of(request).keepalive,
            keepalive_frame=KEEPALIVE_COMMENT,
            on_close=run.close,
        )
    result = await collect(request, run)
    output = [_message(new_id("msg_"), "completed", result.content)]
    response = snapshot.build(
        "completed",
        output,
        usage=_usage(token_counts(result, prompt, result.content)),
        completed_at=int(time.time()),
    )
    return json_response(response)
