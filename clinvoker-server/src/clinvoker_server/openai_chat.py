"""``POST /openai/v1/chat/completions``: JSON, or SSE chunks when ``stream`` is true.

The stream follows ``reference/sdk-clients.md`` §4.2/§7 exactly: every chunk has the same
``id``, ``object: "chat.completion.chunk"``, ``created`` and ``model``; the first delta carries
``role: "assistant"``; each CLI text delta is relayed as its own chunk the moment it arrives; the
last choice chunk has ``finish_reason``; with ``stream_options.include_usage`` a usage chunk with
``choices: []`` follows; then ``data: [DONE]``. A backend failure ends the stream with
``data: {"error": {...}}`` and no ``[DONE]``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

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
from clinvoker_server.errors import Family, stream_error_kind
from clinvoker_server.jsonio import encode, json_response, prepare_decoders, read_json
from clinvoker_server.openai_wire import (
    ChatChoice,
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    ChunkChoice,
    CompletionUsage,
    Delta,
    assistant_message,
)
from clinvoker_server.sse import KEEPALIVE_COMMENT, StreamResponse, sse_data
from clinvoker_server.state import server_of

__all__ = ["chat_chunks", "chat_completions", "prompt_of"]

prepare_decoders(ChatRequest)

_DONE = b"data: [DONE]\n\n"


def prompt_of(body: ChatRequest) -> tuple[str, str | None]:
    """The flattened prompt and the system prompt of a chat request."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(body.messages):
        text = text_of(message.content, f"messages[{i}].content")
        if message.role in ("system", "developer"):
            system.append(text)
        elif message.role in ("user", "assistant"):
            turns.append((message.role, text))
        elif message.role in ("tool", "function"):
            turns.append(("user", f"(tool output)\n{text}"))
    return flatten(turns), join_system(system)


def _usage(counts: TokenCounts) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=counts.input,
        completion_tokens=counts.output,
        total_tokens=counts.total,
        prompt_tokens_details={"cached_tokens": counts.cached},
        completion_tokens_details={"reasoning_tokens": counts.reasoning},
    )


def _finish_reason(result: Result) -> str:
    return "length" if result.stop_reason in ("max_tokens", "max_turns", "length") else "stop"


async def chat_chunks(
    events: AsyncIterator[Event],
    *,
    chunk_id: str,
    created: int,
    model: str,
    prompt: str,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """The SSE frames of a streamed chat completion, from a run's normalized events."""

    def chunk(delta: Delta, finish: str | None = None) -> bytes:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish)
        return sse_data(
            encode(ChatChunk(id=chunk_id, created=created, model=model, choices=[choice]))
        )

    yield chunk(Delta(role="assistant", content=""))
    texts: list[str] = []
    result: Result | None = None
    fatal: Error | None = None
    async for item in text_and_outcome(events):
        if isinstance(item, str):
            texts.append(item)
            yield chunk(Delta(content=item))
        elif isinstance(item, Done):
            result = item.result
        else:
            fatal = item
    failure = failure_of(result, fatal)
    if failure is not None or result is None:
        kind = stream_error_kind(failure, Family.OPENAI) if failure else "server_error"
        error = {
            "message": str(failure),
            "type": kind,
            "param": None,
            "code": getattr(failure, "code", None),
        }
        yield sse_data(encode({"error": error}))
        return
    yield chunk(Delta(), _finish_reason(result))
    if include_usage:
        counts = token_counts(result, prompt, "".join(texts))
        usage_chunk = ChatChunk(
            id=chunk_id, created=created, model=model, choices=[], usage=_usage(counts)
        )
        yield sse_data(encode(usage_chunk))
    yield _DONE


async def chat_completions(request: Request) -> Response | StreamResponse:
    """The route handler."""
    body = await read_json(request, ChatRequest, Family.OPENAI)
    prompt, system = prompt_of(body)
    run = await start_run(request, body.model, prompt, system)
    chunk_id = new_id("chatcmpl-")
    created = int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        frames = chat_chunks(
            run.events(),
            chunk_id=chunk_id,
            created=created,
            model=body.model,
            prompt=prompt,
            include_usage=include_usage,
        )
        return StreamResponse(
            frames,
            media_type="text/event-stream",
            keepalive=server_of(request).keepalive,
            keepalive_frame=KEEPALIVE_COMMENT,
            on_close=run.close,
        )
    result = await collect(request, run)
    completion = ChatCompletion(
        id=chunk_id,
        created=created,
        model=body.model,
        choices=[
            ChatChoice(
                index=0,
                message=assistant_message(result.content),
                finish_reason=_finish_reason(result),
            )
        ],
        usage=_usage(token_counts(result, prompt, result.content)),
    )
    return json_response(completion)
