"""OpenAI wire formats: chat completions, responses and models (msgspec Structs).

Requests are decoded leniently — unknown fields (``temperature``, ``tools``, ``seed``...) are
accepted and ignored — while responses always carry every field the OpenAI spec and the SDKs'
strict mode require (see ``reference/sdk-clients.md`` §4).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "ChatChoice",
    "ChatChunk",
    "ChatCompletion",
    "ChatMessage",
    "ChatRequest",
    "ChunkChoice",
    "CompletionUsage",
    "Delta",
    "Model",
    "ModelList",
    "OutputMessage",
    "OutputText",
    "ResponseObject",
    "ResponseUsage",
    "ResponsesRequest",
]


class _Lenient(msgspec.Struct, kw_only=True):
    """Request structs: unknown fields are ignored."""


# -- requests ---------------------------------------------------------------------------------


class ChatMessage(_Lenient, kw_only=True):
    """One message of a chat request; ``content`` is a string or a list of content parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(_Lenient, kw_only=True):
    """``stream_options``: ``include_usage`` adds the final usage chunk."""

    include_usage: bool = False


class ChatRequest(_Lenient, kw_only=True):
    """``POST /chat/completions`` (sampling fields are accepted and ignored)."""

    model: str
    messages: list[ChatMessage]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    user: str | None = None


class ResponsesRequest(_Lenient, kw_only=True):
    """``POST /responses``: ``input`` is a string or a list of input items."""

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    stream: bool | None = False
    metadata: dict[str, str] | None = None
    previous_response_id: str | None = None


# -- chat completion responses ----------------------------------------------------------------


class CompletionUsage(msgspec.Struct, kw_only=True):
    """Token usage of a chat completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: dict[str, int] | None = None
    completion_tokens_details: dict[str, int] | None = None


class _AssistantMessage(msgspec.Struct, kw_only=True):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None


class ChatChoice(msgspec.Struct, kw_only=True):
    """The one choice of a chat completion."""

    index: int
    message: _AssistantMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(msgspec.Struct, kw_only=True):
    """A non-streamed chat completion."""

    id: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: CompletionUsage | None = None
    object: Literal["chat.completion"] = "chat.completion"


class Delta(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The delta of a chunk (empty fields left out; ``{}`` on the last one)."""

    role: str | None = None
    content: str | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    """A choice of a stream chunk."""

    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: None = None


class ChatChunk(msgspec.Struct, kw_only=True):
    """One ``chat.completion.chunk`` (``usage`` only on the usage chunk)."""

    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    usage: CompletionUsage | msgspec.UnsetType = msgspec.UNSET


def assistant_message(content: str) -> _AssistantMessage:
    """The assistant message of a completion."""
    return _AssistantMessage(content=content)


# -- responses API ---------------------------------------------------------------------------


class OutputText(msgspec.Struct, kw_only=True):
    """An ``output_text`` content part."""

    text: str
    type: Literal["output_text"] = "output_text"
    annotations: list[Any] = msgspec.field(default_factory=list)
    logprobs: list[Any] = msgspec.field(default_factory=list)


class OutputMessage(msgspec.Struct, kw_only=True):
    """An assistant ``message`` output item."""

    id: str
    status: str
    content: list[OutputText]
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"


class ResponseUsage(msgspec.Struct, kw_only=True):
    """Usage of a response (both ``*_details`` objects are required)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: dict[str, int]
    output_tokens_details: dict[str, int]


class ResponseError(msgspec.Struct, kw_only=True):
    """Why a response failed."""

    code: str
    message: str


class ResponseObject(msgspec.Struct, kw_only=True):
    """A ``Response``; ``usage`` is omitted (never null) while in progress."""

    id: str
    created_at: int
    model: str
    status: str
    output: list[OutputMessage]
    object: Literal["response"] = "response"
    error: ResponseError | None = None
    incomplete_details: None = None
    instructions: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    parallel_tool_calls: bool = False
    temperature: float | None = None
    top_p: float | None = None
    tool_choice: str = "auto"
    tools: list[Any] = msgspec.field(default_factory=list)
    usage: ResponseUsage | msgspec.UnsetType = msgspec.UNSET
    completed_at: int | None = None


# -- models ----------------------------------------------------------------------------------


class Model(msgspec.Struct, kw_only=True):
    """One model id."""

    id: str
    created: int
    owned_by: str
    object: Literal["model"] = "model"


class ModelList(msgspec.Struct, kw_only=True):
    """``GET /models``."""

    data: list[Model]
    object: Literal["list"] = "list"
