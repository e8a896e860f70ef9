"""The OpenAI wire formats: Responses (what Codex uses), Chat Completions, and the model list."""

from __future__ import annotations

import json
import time
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

__all__ = ["OpenAIChat", "OpenAIResponses", "openai_models"]

_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request (fake)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-t***est (fake).",
    ),
    403: ("permission_error", None, "You are not allowed to use this resource (fake)."),
    404: ("invalid_request_error", "not_found", "Not found (fake)."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (fake)."),
    500: ("server_error", None, "The server had an error while processing your request (fake)."),
    503: ("server_error", None, "The engine is currently overloaded (fake)."),
    529: ("server_error", None, "The engine is currently overloaded (fake)."),
}


def openai_models() -> dict[str, Any]:
    """Body of ``GET /v1/models`` for OpenAI clients."""
    names = ("gpt-5.5", "gpt-5.5-mini", "o4-mini")
    data = [{"id": n, "object": "model", "created": 1700000000, "owned_by": "fake"} for n in names]
    return {"object": "list", "data": data}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _OpenAIWire(Wire):
    provider = "openai"

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        kind, code, default = _ERRORS.get(status, ("server_error", None, f"HTTP {status} (fake)."))
        error = {"message": message or default, "type": kind, "param": None, "code": code}
        return {"error": error}

    def tool_call(self, summary: Summary, write: bool) -> ToolCall:
        command = tool_command(write)
        if "exec_command" in summary.tools or not summary.tools:
            return ToolCall("exec_command", {"cmd": command})
        if "shell" in summary.tools:
            return ToolCall("shell", {"command": ["bash", "-lc", command]})
        return ToolCall(summary.tools[0], {"cmd": command})


class OpenAIResponses(_OpenAIWire):
    """``/v1/responses``: SSE ``response.created … response.completed`` or one response object."""

    def model_not_found(self, model: str) -> tuple[int, dict[str, Any]]:
        body = self.error_body(400, f"The requested model '{model}' does not exist.")
        body["error"].update(param="model", code="model_not_found")
        return 400, body

    def _item(self, reply: Reply, status: str = "completed") -> dict[str, Any]:
        if reply.tool_call is not None:
            call = reply.tool_call
            arguments = _json(call.arguments) if status == "completed" else ""
            return {
                "id": new_id("fc"),
                "type": "function_call",
                "status": status,
                "call_id": call.call_id,
                "name": call.name,
                "arguments": arguments,
            }
        content = [_text_part(reply.text)] if status == "completed" else []
        return {
            "id": new_id("msg"),
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def _response(self, model: str, status: str, output: list[Any]) -> dict[str, Any]:
        done = status == "completed"
        return {
            "id": "resp_fake",
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "model": model,
            "output": output,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": _responses_usage() if done else None,
        }

    def complete(self, reply: Reply, model: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._response(model, "completed", [self._item(reply)])

    def stream(self, reply: Reply, model: str, body: dict[str, Any]) -> list[Frame]:
        events: list[tuple[dict[str, Any], bool]] = [
            (
                {"type": "response.created", "response": self._response(model, "in_progress", [])},
                False,
            ),
            (
                {
                    "type": "response.in_progress",
                    "response": self._response(model, "in_progress", []),
                },
                False,
            ),
        ]
        item = self._item(reply)
        started = self._item(reply, "in_progress") | {"id": item["id"]}
        where = {"item_id": item["id"], "output_index": 0}
        events.append(
            ({"type": "response.output_item.added", "output_index": 0, "item": started}, False)
        )
        if reply.tool_call is not None:
            args = item["arguments"]
            events.append(
                ({"type": "response.function_call_arguments.delta", **where, "delta": args}, False)
            )
            events.append(
                (
                    {"type": "response.function_call_arguments.done", **where, "arguments": args},
                    False,
                )
            )
        else:
            part = where | {"content_index": 0}
            events.append(
                ({"type": "response.content_part.added", **part, "part": _text_part("")}, False)
            )
            for chunk in reply.chunks:
                delta = {
                    "type": "response.output_text.delta",
                    **part,
                    "delta": chunk,
                    "logprobs": [],
                }
                events.append((delta, True))
            events.append(
                (
                    {
                        "type": "response.output_text.done",
                        **part,
                        "text": reply.text,
                        "logprobs": [],
                    },
                    False,
                )
            )
            events.append(
                (
                    {"type": "response.content_part.done", **part, "part": _text_part(reply.text)},
                    False,
                )
            )
        events.append(
            ({"type": "response.output_item.done", "output_index": 0, "item": item}, False)
        )
        final = self._response(model, "completed", [item])
        events.append(({"type": "response.completed", "response": final}, False))
        return [
            (sse(event | {"sequence_number": n}, event["type"]), is_delta)
            for n, (event, is_delta) in enumerate(events)
        ]


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _responses_usage() -> dict[str, Any]:
    return {
        "input_tokens": INPUT_TOKENS,
        "input_tokens_details": {
            "cached_tokens": CACHE_READ_TOKENS,
            "cache_write_tokens": CACHE_WRITE_TOKENS,
        },
        "output_tokens": OUTPUT_TOKENS,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
    }


def _chat_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": INPUT_TOKENS,
        "completion_tokens": OUTPUT_TOKENS,
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CACHE_READ_TOKENS},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


class OpenAIChat(_OpenAIWire):
    """``/v1/chat/completions``: ``chat.completion.chunk`` SSE ending in ``[DONE]``, or one completion."""

    def model_not_found(self, model: str) -> tuple[int, dict[str, Any]]:
        message = f"The model `{model}` does not exist or you do not have access to it."
        body = self.error_body(404, message)
        body["error"]["code"] = "model_not_found"
        return 404, body

    def _tool_calls(self, call: ToolCall) -> list[dict[str, Any]]:
        function = {"name": call.name, "arguments": _json(call.arguments)}
        return [{"id": call.call_id, "type": "function", "function": function}]

    def complete(self, reply: Reply, model: str, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        finish = "stop"
        if reply.tool_call is not None:
            message |= {"content": None, "tool_calls": self._tool_calls(reply.tool_call)}
            finish = "tool_calls"
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": _chat_usage(),
        }

    def stream(self, reply: Reply, model: str, body: dict[str, Any]) -> list[Frame]:
        head = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
        }
        head["model"] = model

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return sse(head | {"choices": [choice]})

        frames: list[Frame] = [(chunk({"role": "assistant", "content": ""}), False)]
        if reply.tool_call is not None:
            calls = self._tool_calls(reply.tool_call)
            frames.append((chunk({"tool_calls": [calls[0] | {"index": 0}]}), False))
            frames.append((chunk({}, "tool_calls"), False))
        else:
            frames += [(chunk({"content": c}), True) for c in reply.chunks]
            frames.append((chunk({}, "stop"), False))
        options = body.get("stream_options") or {}
        if options.get("include_usage"):
            frames.append((sse(head | {"choices": [], "usage": _chat_usage()}), False))
        frames.append((b"data: [DONE]\n\n", False))
        return frames
