"""The Gemini API wire format (``/v1beta/models/{model}:generateContent`` and friends)."""

from __future__ import annotations

from typing import Any

from .fake_replies import (
    CACHE_READ_TOKENS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    Frame,
    Reply,
    ToolCall,
    Wire,
    sse,
    tool_command,
)
from .fake_requests import Summary

__all__ = ["GeminiGenerate", "gemini_count_tokens"]

_ERRORS = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument. (fake)"),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials. (fake)"),
    403: ("PERMISSION_DENIED", "The caller does not have permission. (fake)"),
    404: ("NOT_FOUND", "Requested entity was not found. (fake)"),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota). (fake)"),
    500: ("INTERNAL", "An internal error has occurred. (fake)"),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later. (fake)"),
    529: ("UNAVAILABLE", "The model is overloaded. Please try again later. (fake)"),
}


def gemini_count_tokens() -> dict[str, Any]:
    """Body of ``:countTokens``."""
    return {"totalTokens": INPUT_TOKENS, "cachedContentTokenCount": CACHE_READ_TOKENS}


def _usage() -> dict[str, Any]:
    return {
        "promptTokenCount": INPUT_TOKENS,
        "candidatesTokenCount": OUTPUT_TOKENS,
        "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS,
        "cachedContentTokenCount": CACHE_READ_TOKENS,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": INPUT_TOKENS}],
    }


class GeminiGenerate(Wire):
    """``:streamGenerateContent`` (SSE with ``alt=sse``) and ``:generateContent``."""

    provider = "gemini"

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        kind, default = _ERRORS.get(status, ("UNKNOWN", f"HTTP {status} (fake)"))
        return {"error": {"code": status, "message": message or default, "status": kind}}

    def model_not_found(self, model: str) -> tuple[int, dict[str, Any]]:
        message = (
            f"models/{model} is not found for API version v1beta, "
            "or is not supported for generateContent."
        )
        return 404, self.error_body(404, message)

    def tool_call(self, summary: Summary, write: bool) -> ToolCall:
        if write or "run_shell_command" in summary.tools or "list_directory" not in summary.tools:
            arguments = {"command": tool_command(write), "description": "Print a marker"}
            return ToolCall("run_shell_command", arguments)
        return ToolCall("list_directory", {"dir_path": "."})

    def _candidate(self, parts: list[dict[str, Any]], finished: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finished:
            candidate["finishReason"] = "STOP"
        return candidate

    def _parts(self, reply: Reply, text: str) -> list[dict[str, Any]]:
        call = reply.tool_call
        if call is not None:
            return [{"functionCall": {"name": call.name, "args": call.arguments}}]
        return [{"text": text}]

    def _chunk(self, model: str, parts: list[dict[str, Any]], finished: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"candidates": [self._candidate(parts, finished)]}
        if finished:
            body["usageMetadata"] = _usage()
        return body | {"modelVersion": model, "responseId": "resp_fake"}

    def complete(self, reply: Reply, model: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._chunk(model, self._parts(reply, reply.text), finished=True)

    def stream(self, reply: Reply, model: str, body: dict[str, Any]) -> list[Frame]:
        if reply.tool_call is not None:
            return [(sse(self.complete(reply, model, body)), False)]
        chunks = reply.chunks
        return [
            (sse(self._chunk(model, [{"text": c}], finished=n == len(chunks) - 1)), True)
            for n, c in enumerate(chunks)
        ]
