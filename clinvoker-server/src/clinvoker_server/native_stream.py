"""Native streaming: the normalized events as the Go tool's NDJSON envelope, or as SSE.

Each event becomes ``{"type", "backend", "session_id", "timestamp", "content", "sequence"}``:

=================  ==============================================================
normalized event   native ``type`` and ``content``
=================  ==============================================================
SessionStarted     ``init`` ``{backend_session_id, model, working_dir}``
TextDelta          ``message`` ``{text, role: "assistant", is_partial: true}``
ToolUse            ``tool_use`` ``{tool_id, tool_name, input}``
ToolResult         ``tool_result`` ``{tool_id, tool_name, output, is_error}``
UsageReport        ``token_usage`` ``{input_tokens, output_tokens, ...}``
Error              ``error`` ``{code, message, fatal}``
Done               ``done`` ``{exit_code, duration_ms, output, error, token_usage...}``
=================  ==============================================================

:class:`~clinvoker.events.Message` events are not sent: their text already went out as deltas.
Over SSE each frame is ``id: <sequence>`` + ``event: <type>`` + ``data: <json>``.

With ``wire_format: clinvk`` (:func:`clinvk_frames`) the events go out as clinvoker encodes them
(``{"type":"text_delta","seq":3,"text":"Hi"}``, every event including ``message``, the last a
``done`` with the whole result minus the backend's opaque state), so ``clinvk --server`` renders
exactly what a local run renders; with ``native`` the CLI's own stdout lines come along as
``{"type":"native","line":"..."}``, each before the events parsed from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from clinvoker.events import (
    Done,
    Error,
    Event,
    SessionStarted,
    TextDelta,
    ToolResult,
    ToolUse,
    UsageReport,
    encode_event,
)
from clinvoker.result import Result, Usage

from clinvoker_server.jsonio import encode
from clinvoker_server.native_wire import PromptResponse, StreamEvent, TokenUsage

__all__ = ["clinvk_frames", "native_frames", "prompt_response", "token_usage"]


def token_usage(usage: Usage | None) -> TokenUsage | None:
    """The native ``token_usage`` object (``None`` when unknown)."""
    if usage is None:
        return None
    return TokenUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


def prompt_response(result: Result, session_id: str | None) -> PromptResponse:
    """The native JSON answer for a finished run."""
    return PromptResponse(
        backend=result.backend,
        exit_code=result.exit_code if result.exit_code != 0 or result.ok else 1,
        duration_ms=int(result.duration_s * 1000),
        session_id=session_id,
        output=result.content or None,
        error=result.error,
        error_code=result.error_code,
        model=result.model,
        token_usage=token_usage(result.usage),
        cost_usd=result.cost_usd,
    )


def _content(event: Event, session_id: str | None) -> tuple[str, dict[str, Any]] | None:
    if isinstance(event, TextDelta):
        return "message", {"text": event.text, "role": "assistant", "is_partial": True}
    if isinstance(event, SessionStarted):
        return "init", {
            "backend_session_id": event.session_id,
            "model": event.model,
            "working_dir": event.cwd,
        }
    if isinstance(event, ToolUse):
        return "tool_use", {"tool_id": event.id, "tool_name": event.name, "input": event.input}
    if isinstance(event, ToolResult):
        return "tool_result", {
            "tool_id": event.id,
            "tool_name": event.name,
            "output": event.output,
            "is_error": event.is_error,
        }
    if isinstance(event, UsageReport):
        body = event.usage.to_dict()
        if event.cost_usd is not None:
            body["cost_usd"] = event.cost_usd  # type: ignore[assignment]
        return "token_usage", dict(body)
    if isinstance(event, Error):
        return "error", {"code": event.code, "message": event.message, "fatal": event.fatal}
    if isinstance(event, Done):
        done: dict[str, Any] = msgspec.to_builtins(prompt_response(event.result, session_id))
        return "done", done
    return None


async def native_frames(
    events: AsyncIterator[Event],
    *,
    backend: str,
    session_id: str | None,
    sse: bool,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIterator[bytes]:
    """NDJSON lines (or SSE frames) for a run's events."""
    async for event in events:
        mapped = _content(event, session_id)
        if mapped is None:
            continue
        kind, content = mapped
        envelope = StreamEvent(
            type=kind,
            backend=backend,
            timestamp=now().isoformat(),
            session_id=session_id,
            content={k: v for k, v in content.items() if v is not None},
            sequence=event.seq or None,
        )
        data = encode(envelope)
        if sse:
            yield b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, kind.encode(), data)
        else:
            yield data + b"\n"


async def clinvk_frames(
    events: AsyncIterator[Event], native_lines: list[bytes] | None = None
) -> AsyncIterator[bytes]:
    """NDJSON lines of clinvoker's own events (``wire_format: clinvk``).

    ``native_lines`` is the list the run appends the CLI's raw stdout lines to (``None``: not
    wanted); they are sent before the next event.
    """
    async for event in events:
        if native_lines:
            for line in native_lines:
                text = line.decode("utf-8", errors="replace")
                yield encode({"type": "native", "line": text}) + b"\n"
            native_lines.clear()
        if isinstance(event, Done):
            result = msgspec.structs.replace(event.result, backend_state={})
            event = msgspec.structs.replace(event, result=result)
        yield encode_event(event) + b"\n"
