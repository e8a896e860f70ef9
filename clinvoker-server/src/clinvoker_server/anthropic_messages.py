"""``POST /anthropic/v1/messages`` (JSON or SSE) and ``POST .../messages/count_tokens``.

The stream follows ``reference/sdk-clients.md`` §4.5/§7: every frame has an ``event:`` line and
the same ``type`` in its data; ``message_start`` (``content: []``, ``usage`` set) →
``content_block_start`` → one ``content_block_delta`` per CLI text delta → ``content_block_stop``
→ ``message_delta`` (``usage`` with ``output_tokens`` *and* ``input_tokens``, which LangChain reads
only from there) → ``message_stop``. A backend failure ends the stream with ``event: error``.
Keep-alives are ``event: ping``.

``count_tokens`` is an estimate (one token per 4 characters of the flattened prompt and system
prompt): the server has no tokenizer for the CLIs' models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from clinvoker.events import Done, Error, Event
from clinvoker.result import Result
from starlette.requests import Request
from starlette.responses import Response

from clinvoker_server.anthropic_wire import (
    CountTokensRequest,
    InputMessage,
    MessageResponse,
    MessagesRequest,
    TextBlock,
    TokenCount,
    Usage,
)
from clinvoker_server.compat import (
    TokenCounts,
    collect,
    estimate_tokens,
    failure_of,
    new_id,
    start_run,
    text_and_outcome,
    token_counts,
)
from clinvoker_server.conversation import flatten, text_of
from clinvoker_server.errors import Family, invalid_field, stream_error_kind
from clinvoker_server.jsonio import encode, json_response, prepare_decoders, read_json
from clinvoker_server.sse import KEEPALIVE_PING, StreamResponse, sse_event
from clinvoker_server.state import principal_of, server_of

__all__ = ["count_tokens", "create_message", "message_events", "prompt_of"]

prepare_decoders(MessagesRequest, CountTokensRequest)


def prompt_of(
    messages: Sequence[InputMessage], system: str | list[dict[str, Any]] | None
) -> tuple[str, str | None]:
    """The flattened prompt and the system prompt."""
    turns: list[tuple[str, str]] = []
    extra_system: list[str] = []
    for i, message in enumerate(messages):
        text = text_of(message.content, f"messages[{i}].content")
        if message.role in ("user", "assistant"):
            turns.append((message.role, text))
        elif message.role == "system":
            extra_system.append(text)
        else:
            raise invalid_field(
                f"messages[{i}].role {message.role!r} is not supported; use user or assistant",
                f"messages[{i}].role",
            )
    system_text = text_of(system, "system") if system is not None else ""
    joined = "\n\n".join(t for t in [system_text, *extra_system] if t.strip())
    return flatten(turns), joined or None


def _usage(counts: TokenCounts) -> Usage:
    return Usage(
        input_tokens=counts.input,
        output_tokens=counts.output,
        cache_read_input_tokens=counts.cached,
        cache_creation_input_tokens=counts.cache_write,
    )


def _stop_reason(result: Result) -> str:
    return "max_tokens" if result.stop_reason in ("max_tokens", "length") else "end_turn"


def _frame(kind: str, **fields: Any) -> bytes:
    return sse_event(kind, encode({"type": kind, **fields}))


async def message_events(
    events: AsyncIterator[Event], *, message_id: str, model: str, prompt: str
) -> AsyncIterator[bytes]:
    """The SSE frames of a streamed message, from a run's normalized events."""
    start = MessageResponse(
        id=message_id,
        model=model,
        content=[],
        usage=Usage(input_tokens=estimate_tokens(prompt), output_tokens=1),
    )
    yield _frame("message_start", message=start)
    yield _frame("content_block_start", index=0, content_block=TextBlock(text=""))
    texts: list[str] = []
    result: Result | None = None
    fatal: Error | None = None
    async for item in text_and_outcome(events):
        if isinstance(item, str):
            texts.append(item)
            yield _frame("content_block_delta", index=0, delta={"type": "text_delta", "text": item})
        elif isinstance(item, Done):
            result = item.result
        else:
            fatal = item
    failure = failure_of(result, fatal)
    if failure is not None or result is None:
        kind = stream_error_kind(failure, Family.ANTHROPIC) if failure else "api_error"
        yield _frame("error", error={"type": kind, "message": str(failure)})
        return
    yield _frame("content_block_stop", index=0)
    counts = token_counts(result, prompt, "".join(texts))
    yield _frame(
        "message_delta",
        delta={"stop_reason": _stop_reason(result), "stop_sequence": None},
        usage=_usage(counts),
    )
    yield _frame("message_stop")


def _check_max_tokens(body: MessagesRequest) -> None:
    if body.max_tokens <= 0:
        raise invalid_field("max_tokens must be greater than 0", "max_tokens")


async def create_message(request: Request) -> Response | StreamResponse:
    """The ``messages`` route handler."""
    body = await read_json(request, MessagesRequest, Family.ANTHROPIC)
    _check_max_tokens(body)
    prompt, system = prompt_of(body.messages, body.system)
    run = await start_run(request, body.model, prompt, system)
    message_id = new_id("msg_")
    if body.stream:
        return StreamResponse(
            message_events(run.events(), message_id=message_id, model=body.model, prompt=prompt),
            media_type="text/event-stream",
            keepalive=server_of(request).keepalive,
            keepalive_frame=KEEPALIVE_PING,
            on_close=run.close,
        )
    result = await collect(request, run)
    message = MessageResponse(
        id=message_id,
        model=body.model,
        content=[TextBlock(text=result.content)],
        usage=_usage(token_counts(result, prompt, result.content)),
        stop_reason=_stop_reason(result),
    )
    return json_response(message)


async def count_tokens(request: Request) -> Response:
    """The ``count_tokens`` route handler (an estimate; see the module docstring)."""
    body = await read_json(request, CountTokensRequest, Family.ANTHROPIC)
    server = server_of(request)
    server.router.resolve(body.model)
    principal_of(request).check_model(body.model)
    prompt, system = prompt_of(body.messages, body.system)
    return json_response(TokenCount(input_tokens=estimate_tokens(prompt + (system or ""))))
