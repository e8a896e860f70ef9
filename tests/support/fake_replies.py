"""Modes, canned replies and the wire-format interface of the fake model API.

A *mode* says how the fake answers a request. It is chosen per request by a ``/__mode/<mode>/``
prefix in the base URL (or server-wide with ``POST /__admin/mode``). Modes combine with ``+``
(``slow2+echo``):

========================  ==============================================================
``ok``                    the canned reply "Hello from fake model", streamed in 4 deltas
``echo``                  the reply quotes the last user message: ``Echo: <text>``
``tool`` / ``toolw``      first a tool call (``echo tool-ran`` / ``touch tool-marker.txt``),
                          then, once the tool's result comes back, the canned text
``400`` … ``529``         a provider-shaped error with that status (``retry-after: 1`` on
                          429/503/529)
``<code>x<N>``            fail the first N model calls with ``<code>``, then answer ok
``malformed``             a 200 stream whose first event is not JSON
``truncated``             the stream stops after 2 text deltas (no completion event);
                          a non-streaming call gets the whole answer
``empty``                 a 200 with an empty body
``slow<secs>``            wait that long (e.g. ``slow0.5``) before answering
========================  ==============================================================

Any model whose name contains ``nonexistent`` gets the provider's model-not-found error.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .fake_requests import Summary

__all__ = [
    "CACHE_READ_TOKENS",
    "CACHE_WRITE_TOKENS",
    "CANNED_TEXT",
    "ERROR_STATUSES",
    "INPUT_TOKENS",
    "OUTPUT_TOKENS",
    "Frame",
    "Mode",
    "Reply",
    "ToolCall",
    "Wire",
    "chunk_text",
    "new_id",
    "parse_mode",
    "schema_instance",
    "sse",
    "tool_command",
]

CANNED_TEXT = "Hello from fake model"
INPUT_TOKENS = 11
OUTPUT_TOKENS = 7
CACHE_READ_TOKENS = 3
CACHE_WRITE_TOKENS = 2
ERROR_STATUSES = frozenset({400, 401, 403, 404, 429, 500, 503, 529})
RETRY_AFTER_STATUSES = frozenset({429, 503, 529})

_FAIL_N = re.compile(r"^(\d{3})x(\d+)$")
_SLOW = re.compile(r"^slow(\d+(?:\.\d+)?)$")
_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    """A fresh, readable id such as ``msg_fake_000007``."""
    return f"{prefix}_fake_{next(_counter):06d}"


@dataclass(frozen=True)
class Mode:
    """A parsed mode string (see the module docstring)."""

    raw: str = "ok"
    error_status: int | None = None
    fail_first: int | None = None
    """With ``error_status``: only the first N model calls fail (``None`` = all of them)."""
    delay: float = 0.0
    delivery: Literal["ok", "malformed", "truncated", "empty"] = "ok"
    behaviour: Literal["text", "echo", "tool", "toolw"] = "text"


def parse_mode(raw: str) -> Mode:
    """Parse ``raw`` (e.g. ``"429x2"``, ``"slow1+echo"``); :class:`ValueError` says what is allowed."""
    values: dict[str, Any] = {"raw": raw}
    for token in raw.split("+"):
        if token == "ok":
            continue
        if token in {"echo", "tool", "toolw"}:
            values["behaviour"] = token
        elif token in {"malformed", "truncated", "empty"}:
            values["delivery"] = token
        elif token.isdigit() and int(token) in ERROR_STATUSES:
            values["error_status"] = int(token)
        elif (m := _FAIL_N.match(token)) and int(m[1]) in ERROR_STATUSES:
            values["error_status"], values["fail_first"] = int(m[1]), int(m[2])
        elif m := _SLOW.match(token):
            values["delay"] = float(m[1])
        else:
            raise ValueError(
                f"unknown fake mode {token!r} in {raw!r}: use ok, echo, tool, toolw, malformed, "
                f"truncated, empty, slow<secs>, one of {sorted(ERROR_STATUSES)} or <code>x<N>"
            )
    return Mode(**values)


@dataclass(frozen=True)
class ToolCall:
    """A tool call the fake model asks the agent to make."""

    name: str
    arguments: dict[str, Any]
    call_id: str = field(default_factory=lambda: new_id("call"))


@dataclass(frozen=True)
class Reply:
    """What the fake model answers: text, or a tool call."""

    text: str = CANNED_TEXT
    tool_call: ToolCall | None = None

    @property
    def chunks(self) -> list[str]:
        """The text as stream deltas: ``["Hello", " from", " fake", " model"]``."""
        return chunk_text(self.text)


Frame = tuple[bytes, bool]
"""One piece of a streamed body and whether it carries a text delta (for ``truncated``)."""


def chunk_text(text: str) -> list[str]:
    """Split text into word deltas that concatenate back to it."""
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) or [text]


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def tool_command(write: bool) -> str:
    """The shell command of the ``tool`` (harmless) and ``toolw`` (needs write access) modes."""
    return "touch tool-marker.txt" if write else "echo tool-ran"


def schema_instance(schema: Any) -> Any:
    """A small value that satisfies a JSON schema (also Gemini's upper-case ``OBJECT`` dialect)."""
    if not isinstance(schema, dict):
        return "fake"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return schema_instance(schema[key][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower()
    if kind == "object":
        return {k: schema_instance(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [schema_instance(schema.get("items"))] * int(schema.get("minItems", 1))
    if kind in {"integer", "number"}:
        low, high = schema.get("minimum", 1), schema.get("maximum", 100)
        middle = (low + high) / 2
        return int(middle) if kind == "integer" else float(middle)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "fake"


class Wire:
    """One provider wire format (Anthropic Messages, OpenAI Responses, Chat, Gemini).

    The server decides *what* to answer (:class:`Reply`, an error status); a wire knows *how* it
    looks on the wire for its provider.
    """

    provider = "unknown"

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        """The provider's JSON error body for ``status`` (``message`` overrides the default)."""
        raise NotImplementedError

    def model_not_found(self, model: str) -> tuple[int, dict[str, Any]]:
        """Status and body the provider answers for an unknown model."""
        raise NotImplementedError

    def tool_call(self, summary: Summary, write: bool) -> ToolCall:
        """The tool call to make for the ``tool``/``toolw`` modes, given the declared tools."""
        raise NotImplementedError

    def stream(self, reply: Reply, model: str, body: dict[str, Any]) -> list[Frame]:
        """The whole streamed body, frame by frame."""
        raise NotImplementedError

    def complete(self, reply: Reply, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """The non-streaming JSON body."""
        raise NotImplementedError

    def malformed(self) -> bytes:
        """A first stream frame whose data is not JSON."""
        return sse("{this is not json")
