"""The Anthropic Messages wire format (``POST /v1/messages``), as Claude Code expects it."""

from __future__ import annotations

import json
from typing import Any

from .fake_replies import (
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    Frame,
    Reply,
    ToolCall,
    Wire,
    new_id,
    sse,
    tool_command,
)
from .fake_requests import Summary

__all__ = ["AnthropicMessages", "anthropic_models"]

_ERRORS = {
    400: ("invalid_request_error", "Invalid request (fake)"),
    401: ("authentication_error", "invalid x-api-key (fake)"),
    403: ("permission_error", "Your API key does not have permission to use this resource (fake)"),
    404: ("not_found_error", "Not found (fake)"),
    429: ("rate_limit_error", "Rate limit exceeded (fake)"),
    500: ("api_error", "Internal server error (fake)"),
    503: ("api_error", "Service unavailable (fake)"),
    529: ("overloaded_error", "Overloaded (fake)"),
}


def _usage(output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": INPUT_TOKENS,
        "cache_creation_input_tokens": CACHE_WRITE_TOKENS,
        "cache_read_input_tokens": CACHE_READ_TOKENS,
        "output_tokens": output_tokens,
    }


def anthropic_models() -> dict[str, Any]:
    """Body of ``GET /v1/models`` for Anthropic clients."""
    names = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5")
    data = [
        {"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"}
        for n in names
    ]
    return {"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]}


class AnthropicMessages(Wire):
    """``/v1/messages``: SSE ``message_start … message_stop`` or one ``message`` object."""

    provider = "anthropic"

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        kind, default = _ERRORS.get(status, ("api_error", f"HTTP {status} (fake)"))
        return {
            "type": "error",
            "error": {"type": kind, "message": message or default},
            "request_id": "req_fake",
        }

    def model_not_found(self, model: str) -> tuple[int, dict[str, Any]]:
        return 404, self.error_body(404, f"model: {model}")

    def tool_call(self, summary: Summary, write: bool) -> ToolCall:
        arguments = {"command": tool_command(write), "description": "Print a marker"}
        return ToolCall("Bash", arguments, call_id=new_id("toolu"))

    def _blocks(self, reply: Reply) -> list[dict[str, Any]]:
        if reply.tool_call is not None:
            call = reply.tool_call
            return [
                {"type": "tool_use", "id": call.call_id, "name": call.name, "input": call.arguments}
            ]
        return [{"type": "text", "text": reply.text}]

    def _stop_reason(self, reply: Reply) -> str:
        return "tool_use" if reply.tool_call is not None else "end_turn"

    def complete(self, reply: Reply, model: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": self._blocks(reply),
            "stop_reason": self._stop_reason(reply),
            "stop_sequence": None,
            "usage": _usage(OUTPUT_TOKENS),
        }

    def stream(self, reply: Reply, model: str, body: dict[str, Any]) -> list[Frame]:
        message = self.complete(reply, model, body) | {
            "content": [],
            "stop_reason": None,
            "usage": _usage(1),
        }
        frames: list[Frame] = [
            (sse({"type": "message_start", "message": message}, "message_start"), False)
        ]
        if reply.tool_call is not None:
            start = self._blocks(reply)[0] | {"input": {}}
            delta = {"type": "input_json_delta", "partial_json": _json(reply.tool_call.arguments)}
            frames.append((_block_start(start), False))
            frames.append((_block_delta(delta), False))
        else:
            frames.append((_block_start({"type": "text", "text": ""}), False))
            frames.append((sse({"type": "ping"}, "ping"), False))
            frames += [
                (_block_delta({"type": "text_delta", "text": chunk}), True)
                for chunk in reply.chunks
            ]
        frames.append(
            (sse({"type": "content_block_stop", "index": 0}, "content_block_stop"), False)
        )
        end = {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
            "usage": {"output_tokens": OUTPUT_TOKENS},
        }
        frames.append((sse(end, "message_delta"), False))
        frames.append((sse({"type": "message_stop"}, "message_stop"), False))
        return frames

    def malformed(self) -> bytes:
        return b"event: message_start\ndata: {this is not json\n\n"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _block_start(block: dict[str, Any]) -> bytes:
    return sse(
        {"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"
    )


def _block_delta(delta: dict[str, Any]) -> bytes:
    return sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
