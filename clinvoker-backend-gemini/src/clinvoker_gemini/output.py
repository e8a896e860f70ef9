"""Reading gemini's output — ``stream-json`` lines, the ``json`` object, plain text — as events.

``stream-json`` (one JSON object per line)::

    init         {session_id, model}
    message      {role: "user"|"assistant", content, delta: true}
    tool_use     {tool_name, tool_id, parameters}
    tool_result  {tool_id, status: "success"|"error", output, error?: {type, message}}
    error        {severity: "warning"|"error", message}
    result       {status: "success"|"error", error?: {type, message}, stats: {...}}

``json`` is one pretty-printed object ``{session_id, response, stats, error?, warnings?}`` on
stdout (on failure: on stderr, after a stack trace). ``text`` is the bare answer.

Everything here is pure; state between lines lives in ``ParseState.data``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from clinvoker.events import (
    Error,
    Event,
    Message,
    SessionStarted,
    TextDelta,
    ToolResult,
    ToolUse,
    UsageReport,
)
from clinvoker.request import ParseState
from clinvoker.result import Usage

from clinvoker_gemini.failures import describe

__all__ = ["DENIED_TOOL_ERRORS", "json_events", "stream_events", "text_delta"]

_json = msgspec.json.Decoder()

DENIED_TOOL_ERRORS = frozenset({"policy_violation", "tool_not_registered", "permission_denied"})
"""``tool_result.error.type`` values that mean the call was refused, not that it failed.

``tool_not_registered`` is what the default approval mode produces for a write tool: headless
gemini does not even declare tools that would need a confirmation."""

_STOPPED = ("Maximum session turns exceeded", "Loop detected")
"""Notices after which gemini stops the agent but still reports ``status:"success"``."""


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _int(obj: Any, key: str) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def stream_usage(stats: Any) -> Usage | None:
    """Usage from a ``result.stats`` object (summed over every model gemini called).

    ``input_tokens`` counts every prompt token (cached ones included). Thinking tokens are not
    broken out in stream-json; whatever ``total_tokens`` holds beyond input + output is counted
    as reasoning (and as output), so our total always equals gemini's.
    """
    if not isinstance(stats, dict):
        return None
    inp, out = _int(stats, "input_tokens"), _int(stats, "output_tokens")
    extra = max(0, _int(stats, "total_tokens") - inp - out)
    return Usage(
        input_tokens=inp,
        output_tokens=out + extra,
        cached_tokens=_int(stats, "cached"),
        reasoning_tokens=extra,
    )


def json_usage(stats: Any) -> tuple[Usage | None, str | None]:
    """Usage and the main model from a json-mode ``stats`` object (``stats.models.<m>.tokens``)."""
    models = stats.get("models") if isinstance(stats, dict) else None
    if not isinstance(models, dict):
        return None, None
    usage = Usage()
    main: list[str] = []
    for name, entry in models.items():
        if not isinstance(entry, dict):
            continue
        tok = entry.get("tokens")
        thoughts = _int(tok, "thoughts")
        usage = usage + Usage(
            input_tokens=_int(tok, "prompt") + _int(tok, "tool"),
            output_tokens=_int(tok, "candidates") + thoughts,
            cached_tokens=_int(tok, "cached"),
            reasoning_tokens=thoughts,
        )
        roles = entry.get("roles")
        if isinstance(roles, dict) and "main" in roles:
            main.append(name)
    names = [n for n in models if isinstance(models[n], dict)]
    model = main[0] if len(main) == 1 else (names[0] if len(names) == 1 else None)
    return usage, model


def _flush_message(data: dict[str, Any]) -> list[Event]:
    text = "".join(data.pop("message_parts", []))
    return [Message(text=text)] if text else []


def _tool_result(obj: dict[str, Any], data: dict[str, Any]) -> list[Event]:
    tool_id = _str(obj, "tool_id") or ""
    name = data.setdefault("tools", {}).get(tool_id)
    is_error = obj.get("status") == "error"
    output = _str(obj, "output") or ""
    err = obj.get("error")
    if is_error and isinstance(err, dict):
        output = output or _str(err, "message") or ""
        if err.get("type") in DENIED_TOOL_ERRORS:
            data.setdefault("denials", []).append(name or tool_id)
    return [ToolResult(id=tool_id, output=output, is_error=is_error, name=name)]


def _error_event(obj: dict[str, Any], data: dict[str, Any]) -> list[Event]:
    message = _str(obj, "message") or "gemini reported an error"
    if message.startswith(_STOPPED):
        data["stopped"] = message
    elif obj.get("severity") == "warning":
        return [Error(message=message, code="warning", fatal=False)]
    # Severity "error" may still be followed by a successful result (e.g. a retried quota
    # error), so the verdict waits for the result event.
    data.setdefault("pending_errors", []).append(message)
    return []


def _result(obj: dict[str, Any], data: dict[str, Any]) -> list[Event]:
    data["result_seen"] = True
    events = _flush_message(data)
    stats = obj.get("stats")
    usage = stream_usage(stats)
    if usage is not None:
        events.append(UsageReport(usage=usage))
    models = stats.get("models") if isinstance(stats, dict) else None
    if isinstance(models, dict) and len(models) == 1:
        data["answered_by"] = next(iter(models))  # the resolved model behind "pro", "flash"...
    pending: list[str] = data.pop("pending_errors", [])
    err = obj.get("error")
    stopped: str | None = data.pop("stopped", None)
    if obj.get("status") == "error" or stopped:
        if isinstance(err, dict) and _str(err, "message"):
            failure = describe(err["message"], error_type=_str(err, "type"))
        elif stopped:
            failure = describe(stopped)
        elif pending:
            failure = describe(pending[-1])
        else:
            failure = describe("gemini reported an error without a message")
        events.append(Error(message=failure.message, code=failure.code, fatal=True))
    else:
        events += [Error(message=m, code="warning", fatal=False) for m in pending]
    return events


def stream_events(line: bytes, state: ParseState) -> list[Event]:
    """Events for one ``stream-json`` line; anything that is not a known JSON event is skipped."""
    try:
        obj = _json.decode(line)
    except msgspec.DecodeError:
        return []
    if not isinstance(obj, dict):
        return []
    data = state.data
    kind = obj.get("type")
    if kind == "message":
        content = _str(obj, "content")
        if obj.get("role") != "assistant" or not content:
            return []
        data.setdefault("message_parts", []).append(content)
        return [TextDelta(text=content)]
    if kind == "init":
        sid = _str(obj, "session_id")
        if not sid:
            return []
        data["session_id"] = sid
        return [SessionStarted(session_id=sid, model=_str(obj, "model"), cwd=state.request.workdir)]
    if kind == "tool_use":
        tool_id = _str(obj, "tool_id") or ""
        name = _str(obj, "tool_name") or "unknown"
        data.setdefault("tools", {})[tool_id] = name
        params = obj.get("parameters")
        events = _flush_message(data)
        events.append(
            ToolUse(id=tool_id, name=name, input=params if isinstance(params, dict) else {})
        )
        return events
    if kind == "tool_result":
        return _tool_result(obj, data)
    if kind == "error":
        return _error_event(obj, data)
    if kind == "result":
        return _result(obj, data)
    return []


def text_delta(line: bytes, state: ParseState) -> list[Event]:
    """Text mode: every stdout line is answer text (lines re-joined with ``\\n``)."""
    text = line.decode("utf-8", "replace")
    first = not state.data.get("text_started")
    state.data["text_started"] = True
    text = text if first else "\n" + text
    return [TextDelta(text=text)] if text else []


def json_events(document: bytes, state: ParseState) -> list[Event] | None:
    """Events for the whole ``-o json`` object, or ``None`` if stdout holds no such object."""
    start = document.find(b"{")
    if start < 0:
        return None
    try:
        obj = _json.decode(document[start:])
    except msgspec.DecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    data = state.data
    data["result_seen"] = True
    events: list[Event] = []
    usage, model = json_usage(obj.get("stats"))
    sid = _str(obj, "session_id")
    if sid:
        data["session_id"] = sid
        model = model or state.request.model
        events.append(SessionStarted(session_id=sid, model=model, cwd=state.request.workdir))
    response = _str(obj, "response")
    if response:
        events += [TextDelta(text=response), Message(text=response)]
    warnings = obj.get("warnings")
    if isinstance(warnings, list):
        events += [
            Error(message=w, code="warning", fatal=False) for w in warnings if isinstance(w, str)
        ]
    if usage is not None:
        events.append(UsageReport(usage=usage))
    err = obj.get("error")
    if isinstance(err, dict):
        failure = describe(
            _str(err, "message") or "gemini reported an error without a message",
            error_type=_str(err, "type"),
            status=err.get("code"),
        )
        events.append(Error(message=failure.message, code=failure.code, fatal=True))
    return events
