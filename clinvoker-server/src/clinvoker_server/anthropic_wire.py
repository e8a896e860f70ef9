"""Anthropic wire formats: messages, token counting and models (msgspec Structs).

Requests are decoded leniently (``temperature``, ``top_k``, ``tools``, ``metadata``... are
accepted and ignored); ``system`` and message ``content`` may be a string or a list of blocks.
Responses carry every field the SDKs' strict mode requires (``reference/sdk-clients.md`` §4.4).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "AnthropicModel",
    "AnthropicModelList",
    "CountTokensRequest",
    "InputMessage",
    "MessageResponse",
    "MessagesRequest",
    "TextBlock",
    "TokenCount",
    "Usage",
]


class _Lenient(msgspec.Struct, kw_only=True):
    """Request structs: unknown fields are ignored."""


class InputMessage(_Lenient, kw_only=True):
    """One message: ``content`` is a string or a list of content blocks."""

    role: str
    content: str | list[dict[str, Any]]


class MessagesRequest(_Lenient, kw_only=True):
    """``POST /v1/messages``."""

    model: str
    max_tokens: int
    messages: list[InputMessage]
    system: str | list[dict[str, Any]] | None = None
    stream: bool | None = False
    stop_sequences: list[str] | None = None


class CountTokensRequest(_Lenient, kw_only=True):
    """``POST /v1/messages/count_tokens``."""

    model: str
    messages: list[InputMessage]
    system: str | list[dict[str, Any]] | None = None


class TextBlock(msgspec.Struct, kw_only=True):
    """A ``text`` content block."""

    text: str
    type: Literal["text"] = "text"


class Usage(msgspec.Struct, kw_only=True):
    """Token usage of a message (cache fields included for the SDKs)."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class MessageResponse(msgspec.Struct, kw_only=True):
    """A ``Message``, also the ``message`` of ``message_start``."""

    id: str
    model: str
    content: list[TextBlock]
    usage: Usage
    stop_reason: str | None = None
    stop_sequence: str | None = None
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"


class TokenCount(msgspec.Struct, kw_only=True):
    """The ``count_tokens`` answer."""

    input_tokens: int


class AnthropicModel(msgspec.Struct, kw_only=True):
    """A ``ModelInfo`` (``lifecycle`` is required by the SDK's strict mode)."""

    id: str
    display_name: str
    created_at: str
    type: Literal["model"] = "model"
    lifecycle: Literal["active"] = "active"


class AnthropicModelList(msgspec.Struct, kw_only=True):
    """``GET /v1/models``: always one page (``has_more: false``)."""

    data: list[AnthropicModel]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None
