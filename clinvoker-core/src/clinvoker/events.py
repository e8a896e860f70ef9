"""The normalized event model: every backend's output becomes these, every surface renders them.

A run yields a stream of events. Backends produce them from the CLI's own lines
(``clinvoker_parse_stream``); the core stamps each with an increasing ``seq`` (starting at 1)
and always ends the stream with exactly one :class:`Done` that carries the final
:class:`~clinvoker.result.Result`.

Text rules, so every consumer renders the same answer:

* :class:`TextDelta` events carry *all* assistant text, in order. A backend whose CLI only prints
  whole messages (Codex) emits one ``TextDelta`` with the whole text. Renderers that stream
  concatenate deltas and nothing else.
* :class:`Message` marks a completed assistant message (its full text). It repeats text already sent as
  deltas; it is informational and never rendered a second time.
* :class:`Error` reports a failure. ``fatal`` errors end the run with a non-successful result;
  non-fatal ones (warnings, retry notices) may be followed by more output.

Encoded with msgspec as JSON objects tagged by ``"type"``::

    {"type":"text_delta","seq":3,"text":"Hello"}
"""

from __future__ import annotations

from typing import Any

import msgspec

from clinvoker.result import Result, Usage

__all__ = [
    "Done",
    "Error",
    "Event",
    "Message",
    "SessionStarted",
    "TextDelta",
    "ToolResult",
    "ToolUse",
    "UsageReport",
    "decode_event",
    "encode_event",
]


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", omit_defaults=True):
    seq: int = 0
    """Position in the run's stream, 1-based; 0 until the core stamps it."""


class SessionStarted(_Event, frozen=True, tag="session_started"):
    """The backend CLI started (or resumed) its conversation; ``session_id`` is the backend's own id."""

    session_id: str
    model: str | None = None
    cwd: str | None = None


class TextDelta(_Event, frozen=True, tag="text_delta"):
    """A piece of assistant text, in order. Concatenating all deltas gives the full answer."""

    text: str


class Message(_Event, frozen=True, tag="message"):
    """A complete assistant message (already sent as deltas)."""

    text: str
    role: str = "assistant"


class ToolUse(_Event, frozen=True, tag="tool_use"):
    """The agent called a tool."""

    id: str
    name: str
    input: dict[str, Any] = msgspec.field(default_factory=dict)


class ToolResult(_Event, frozen=True, tag="tool_result"):
    """A tool finished; ``is_error`` when it failed or was denied."""

    id: str
    output: str = ""
    is_error: bool = False
    name: str | None = None


class UsageReport(_Event, frozen=True, tag="usage"):
    """Token usage (and cost, when the CLI reports it) for this run so far."""

    usage: Usage
    cost_usd: float | None = None


class Error(_Event, frozen=True, tag="error"):
    """A failure reported by the backend or by clinvoker.

    ``code`` is a stable string such as ``authentication_failed``, ``rate_limited``, ``server_error``,
    ``model_not_found``, ``max_turns``, ``timeout``, ``crashed``, ``malformed_output``.
    """

    message: str
    code: str | None = None
    fatal: bool = True


class Done(_Event, frozen=True, tag="done"):
    """The last event of every run."""

    result: Result


Event = SessionStarted | TextDelta | Message | ToolUse | ToolResult | UsageReport | Error | Done

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """Encode one event as compact JSON (no trailing newline)."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> Event:
    """Decode one event from JSON."""
    event: Event = _decoder.decode(data)
    return event
