"""Asking the server a prompt through each API family, and reading what a client would see.

:func:`ask` sends one prompt through ``native`` (``/api/v1/prompt``), ``chat`` (OpenAI chat
completions), ``responses`` (OpenAI responses) or ``anthropic`` (Anthropic messages), streamed or
not, and returns an :class:`Answer`: the HTTP status, the answer text the client assembled and
the error the client was told about — read the way the official SDKs read it (an OpenAI stream
chunk with an ``error`` key, a responses ``error``/``response.failed`` event, an Anthropic
``error`` event, a native ``error`` event or a ``done`` with an error).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx

__all__ = ["FAMILIES", "Answer", "ask", "request_for", "sse_events"]

FAMILIES = ("native", "chat", "responses", "anthropic")


class Answer(NamedTuple):
    """What one request came to."""

    status: int
    text: str
    """The answer text (the streamed deltas joined, or the final message's text)."""
    error: str | None
    """The error message the client was given (``None`` when it succeeded)."""
    complete: bool
    """The response reached its family's normal end (``[DONE]``, ``message_stop``, ``done``...)."""
    elapsed: float
    body_bytes: int


def request_for(
    family: str, prompt: str, *, stream: bool, model: str = "claude"
) -> tuple[str, dict[str, Any]]:
    """The path and JSON body that ask ``prompt`` through ``family``."""
    if family == "native":
        body: dict[str, Any] = {"prompt": prompt, "backend": model.split("/")[0]}
        if stream:
            body["output_format"] = "stream-json"
        return "/api/v1/prompt", body
    if family == "chat":
        messages = [{"role": "user", "content": prompt}]
        return "/openai/v1/chat/completions", {
            "model": model,
            "messages": messages,
            "stream": stream,
        }
    if family == "responses":
        return "/openai/v1/responses", {"model": model, "input": prompt, "stream": stream}
    if family == "anthropic":
        messages = [{"role": "user", "content": prompt}]
        return "/anthropic/v1/messages", {
            "model": model,
            "max_tokens": 1024,
            "messages": messages,
            "stream": stream,
        }
    raise ValueError(f"unknown API family {family!r}: use one of {', '.join(FAMILIES)}")


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` pairs of a text/event-stream (event is ``message`` when unnamed)."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield event, "\n".join(data)


def _error_message(body: Any) -> str | None:
    """The message of an error body in any family's shape."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if isinstance(error, str):
        return error
    return None


def _read_plain(family: str, status: int, raw: bytes) -> tuple[str, str | None, bool]:
    try:
        body = json.loads(raw)
    except ValueError:
        return "", f"HTTP {status}: not JSON: {raw[:200]!r}", False
    if status >= 400:
        return "", _error_message(body) or f"HTTP {status}", True
    if family == "native":
        failed = body.get("exit_code", 0) != 0 or body.get("error")
        return body.get("output") or "", (body.get("error") or "failed") if failed else None, True
    if family == "chat":
        return body["choices"][0]["message"]["content"] or "", None, True
    if family == "responses":
        if body.get("status") != "completed":
            return "", _error_message(body) or f"response {body.get('status')}", True
        parts = [c.get("text", "") for item in body["output"] for c in item.get("content", [])]
        return "".join(parts), None, True
    return "".join(b.get("text", "") for b in body["content"]), None, True


def _read_native_stream(lines: Iterator[str]) -> tuple[str, str | None, bool]:
    text: list[str] = []
    error: str | None = None
    complete = False
    for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        content = event.get("content") or {}
        if event["type"] == "message":
            text.append(content.get("text", ""))
        elif event["type"] == "error" and content.get("fatal", True):
            error = error or content.get("message")
        elif event["type"] == "done":
            complete = True
            if content.get("error") or content.get("exit_code", 0) != 0:
                error = error or content.get("error") or "failed"
    return "".join(text), error, complete


def _read_sse(family: str, lines: Iterator[str]) -> tuple[str, str | None, bool]:
    text: list[str] = []
    error: str | None = None
    complete = False
    for event, data in sse_events(lines):
        if data == "[DONE]":
            complete = True
            continue
        obj = json.loads(data)
        if family == "chat":
            if "error" in obj:
                error = error or _error_message(obj)
                continue
            for choice in obj.get("choices", []):
                text.append(choice.get("delta", {}).get("content") or "")
        elif family == "responses":
            kind = obj.get("type", event)
            if kind == "response.output_text.delta":
                text.append(obj.get("delta", ""))
            elif kind == "error":
                error = error or obj.get("message") or "error"
            elif kind in ("response.failed", "response.incomplete"):
                error = error or _error_message(obj.get("response")) or kind
                complete = True
            elif kind == "response.completed":
                complete = True
        else:
            kind = obj.get("type", event)
            if kind == "content_block_delta":
                text.append(obj.get("delta", {}).get("text", ""))
            elif kind == "error":
                error = error or _error_message(obj) or "error"
            elif kind == "message_stop":
                complete = True
    return "".join(text), error, complete


def ask(
    client: httpx.Client,
    family: str,
    prompt: str,
    *,
    stream: bool,
    model: str = "claude",
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    hang_up_after: int | None = None,
) -> Answer:
    """Send ``prompt`` through ``family`` and read the response as a client would.

    :param timeout: give up (:class:`httpx.TimeoutException`) when the server is silent this long.
    :param hang_up_after: close the connection after this many lines of a streamed response.
    """
    path, body = request_for(family, prompt, stream=stream, model=model)
    began = time.monotonic()
    kw: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    with client.stream("POST", path, json=body, headers=headers, **kw) as response:
        if not stream or response.status_code >= 400:
            raw = response.read()
            text, error, complete = _read_plain(family, response.status_code, raw)
            size = len(raw)
        else:
            counted = _Counted(response.iter_lines(), hang_up_after)
            if family == "native":
                text, error, complete = _read_native_stream(counted)
            else:
                text, error, complete = _read_sse(family, counted)
            size = counted.size
    return Answer(response.status_code, text, error, complete, time.monotonic() - began, size)


class _Counted:
    """Iterates lines (at most ``limit``) and adds up their size."""

    def __init__(self, lines: Iterator[str], limit: int | None = None) -> None:
        self._lines = lines
        self._left = limit
        self.size = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._left is not None:
            if self._left <= 0:
                raise StopIteration
            self._left -= 1
        line = next(self._lines)
        self.size += len(line) + 1
        return line
