"""Claude Code's output lines → clinvoker events.

Handles ``--output-format stream-json`` (one JSON object per line, with ``stream_event`` token
deltas when ``--include-partial-messages`` is on), ``json`` (one ``result`` object, or an array of
every message when ``--verbose`` is also given) and ``text`` (the answer as printed).

Text rules (see :mod:`clinvoker.events`): every piece of top-level assistant text is sent once as
:class:`TextDelta` — from ``stream_event`` deltas when the CLI streams them, else from the
``assistant`` message; a :class:`Message` repeats each completed message. Text of separate
assistant messages is joined by a blank line. Parsing never raises: unknown event types are
skipped, and lines that are not JSON are remembered for the final error message.
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

from clinvoker_claude.failures import Failure, classify_api_error, classify_message
from clinvoker_claude.usage import TurnFigures, turn_figures

__all__ = ["StreamState", "parse_line", "stream_state"]

_decode = msgspec.json.Decoder().decode
_MESSAGE_SEPARATOR = "\n\n"
_SYNTHETIC_MODEL = "<synthetic>"
# ``result`` subtypes other than success → our code.
_RESULT_SUBTYPE_CODES = {
    "error_max_turns": "max_turns",
    "error_max_budget_usd": "budget_exceeded",
}


class _MessageText:
    """Text of one assistant message: what was streamed as deltas, and how much of it a
    completed ``assistant`` event has already accounted for."""

    __slots__ = ("covered", "streamed")

    def __init__(self) -> None:
        self.streamed = ""
        self.covered = 0


class StreamState:
    """What the parser remembers between lines of one run (kept in ``ParseState.data``)."""

    __slots__ = (
        "cli_version",
        "error_emitted",
        "figures",
        "messages",
        "model",
        "non_json",
        "open_message",
        "pending_error",
        "result",
        "session_id",
        "text_emitted",
        "text_lines",
        "tool_names",
    )

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.model: str | None = None
        self.cli_version: str | None = None
        self.messages: dict[str, _MessageText] = {}
        self.open_message: str | None = None
        self.text_emitted = False
        self.text_lines = 0
        self.tool_names: dict[str, str] = {}
        self.pending_error: Failure | None = None
        self.error_emitted = False
        self.result: dict[str, Any] | None = None
        self.figures: TurnFigures | None = None
        self.non_json: list[str] = []


def stream_state(state: ParseState) -> StreamState:
    """This run's :class:`StreamState`, created on first use."""
    found = state.data.get("claude")
    if not isinstance(found, StreamState):
        found = StreamState()
        state.data["claude"] = found
    return found


def parse_line(line: bytes, state: ParseState) -> list[Event]:
    """Events for one line of Claude Code's stdout (never raises)."""
    st = stream_state(state)
    if state.request.output == "text":
        return _text_line(line, st)
    stripped = line.strip()
    if not stripped:
        return []
    if stripped[:1] in (b"{", b"["):
        try:
            obj = _decode(stripped)
        except (msgspec.DecodeError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            return _event(obj, st, state)
        if isinstance(obj, list):
            return [ev for item in obj if isinstance(item, dict) for ev in _event(item, st, state)]
    if len(st.non_json) < 5:
        st.non_json.append(stripped[:500].decode("utf-8", "replace"))
    return []


def _text_line(line: bytes, st: StreamState) -> list[Event]:
    text = line.decode("utf-8", "replace").rstrip("\r")
    prefix = "\n" if st.text_lines else ""
    st.text_lines += 1
    if not (prefix + text):
        return []
    st.text_emitted = True
    return [TextDelta(text=prefix + text)]


def _event(obj: dict[str, Any], st: StreamState, state: ParseState) -> list[Event]:
    kind = obj.get("type")
    events: list[Event] = []
    session_id = obj.get("session_id")
    if isinstance(session_id, str) and session_id and session_id != st.session_id:
        st.session_id = session_id
        _note_model(st, obj, kind)
        cwd = obj.get("cwd") if kind == "system" else None
        events.append(
            SessionStarted(
                session_id=session_id,
                model=st.model or state.request.model,
                cwd=cwd if isinstance(cwd, str) else None,
            )
        )
    else:
        _note_model(st, obj, kind)
    if kind == "system" and obj.get("subtype") == "init":
        version = obj.get("claude_code_version")
        st.cli_version = version if isinstance(version, str) else st.cli_version
    elif kind == "stream_event":
        events.extend(_stream_event(obj, st))
    elif kind == "assistant":
        events.extend(_assistant(obj, st))
    elif kind == "user":
        events.extend(_tool_results(obj, st))
    elif kind == "result":
        events.extend(_result(obj, st, state))
    return events


def _note_model(st: StreamState, obj: dict[str, Any], kind: object) -> None:
    model: object = None
    if kind == "system" and obj.get("subtype") == "init":
        model = obj.get("model")
    elif kind == "assistant":
        model = _dict(obj.get("message")).get("model")
    elif kind == "result" and st.model is None:
        model = next(iter(_dict(obj.get("modelUsage"))), None)
    if isinstance(model, str) and model and model != _SYNTHETIC_MODEL:
        st.model = model


def _stream_event(obj: dict[str, Any], st: StreamState) -> list[Event]:
    if obj.get("parent_tool_use_id") is not None:
        return []  # a sub-agent's tokens are not the answer
    ev = _dict(obj.get("event"))
    kind = ev.get("type")
    if kind == "message_start":
        message_id = _dict(ev.get("message")).get("id")
        st.open_message = message_id if isinstance(message_id, str) else ""
        st.messages.setdefault(st.open_message, _MessageText())
    elif kind == "content_block_delta":
        delta = _dict(ev.get("delta"))
        text = delta.get("text")
        if delta.get("type") == "text_delta" and isinstance(text, str) and text:
            key = st.open_message if st.open_message is not None else ""
            record = st.messages.setdefault(key, _MessageText())
            return _emit_text(st, record, text)
    elif kind == "message_stop" and not isinstance(obj.get("abandoned_blocks"), dict):
        # 2.1.330 marks a broken-off stream "abandoned"; its refetch continues the message
        st.open_message = None
    return []


def _emit_text(st: StreamState, record: _MessageText, text: str) -> list[Event]:
    """TextDelta(s) for new text of ``record``, with the separator before a new message's text."""
    events: list[Event] = []
    if st.text_emitted and not record.streamed:
        events.append(TextDelta(text=_MESSAGE_SEPARATOR))
    record.streamed += text
    st.text_emitted = True
    events.append(TextDelta(text=text))
    return events


def _assistant(obj: dict[str, Any], st: StreamState) -> list[Event]:
    message = _dict(obj.get("message"))
    blocks = [b for b in _list(message.get("content")) if isinstance(b, dict)]
    texts = [
        b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    error = obj.get("error")
    if isinstance(error, str) and error:
        text = "".join(texts) or error
        st.pending_error = Failure(text, classify_api_error(text, synthetic=error))
        return []
    events: list[Event] = []
    top_level = obj.get("parent_tool_use_id") is None
    if top_level and texts:
        record = _record_for(st, message.get("id"))
        for text in texts:
            events.extend(_unstreamed(st, record, text))
        events.append(Message(text="".join(texts)))
    for block in blocks:
        if block.get("type") == "tool_use":
            tool_id, name = block.get("id"), block.get("name")
            if isinstance(tool_id, str) and isinstance(name, str):
                st.tool_names[tool_id] = name
                events.append(ToolUse(id=tool_id, name=name, input=_dict(block.get("input"))))
    return events


def _record_for(st: StreamState, message_id: object) -> _MessageText:
    """The streamed-text record of this message. A message whose stream broke off and was then
    fetched again without streaming arrives under a new id: it continues the orphaned record."""
    key = message_id if isinstance(message_id, str) else ""
    record = st.messages.get(key)
    if record is None:
        orphan = st.open_message
        if orphan is not None and orphan != key and orphan in st.messages:
            record = st.messages.pop(orphan)
            record.covered = 0  # the refetched message repeats every block from the start
            st.open_message = None
        else:
            record = _MessageText()
        st.messages[key] = record
    return record


def _unstreamed(st: StreamState, record: _MessageText, text: str) -> list[Event]:
    """Deltas for the part of a completed text block that was not streamed yet."""
    rest = record.streamed[record.covered :]
    if rest.startswith(text):
        record.covered += len(text)
        return []
    if text.startswith(rest):
        missing = text[len(rest) :]
        record.covered = len(record.streamed)
        if not missing:
            return []
        deltas = _emit_text(st, record, missing)
        record.covered = len(record.streamed)
        return deltas
    # The CLI restarted this message after part of it was streamed; the text differs.
    events: list[Event] = [
        Error(
            message="claude restarted a reply after part of it was streamed; "
            "the streamed text repeats the start of the answer",
            code="stream_restarted",
            fatal=False,
        )
    ]
    record.covered = len(record.streamed)
    events.extend(_emit_text(st, record, text))
    record.covered = len(record.streamed)
    return events


def _tool_results(obj: dict[str, Any], st: StreamState) -> list[Event]:
    events: list[Event] = []
    for block in _list(_dict(obj.get("message")).get("content")):
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            continue
        tool_id = block.get("tool_use_id")
        if not isinstance(tool_id, str):
            continue
        events.append(
            ToolResult(
                id=tool_id,
                output=_tool_output(block.get("content")),
                is_error=block.get("is_error") is True,
                name=st.tool_names.get(tool_id),
            )
        )
    return events


def _tool_output(content: object) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for item in _list(content):
        if isinstance(item, dict):
            if isinstance(item.get("text"), str):
                parts.append(item["text"])
            elif isinstance(item.get("type"), str):
                parts.append(f"[{item['type']}]")
    return "\n".join(parts)


def _result(obj: dict[str, Any], st: StreamState, state: ParseState) -> list[Event]:
    st.result = obj
    events: list[Event] = []
    is_error = obj.get("is_error") is True
    text = obj.get("result")
    if not is_error and not st.text_emitted and isinstance(text, str) and text:
        events.extend(_emit_text(st, _record_for(st, None), text))
    figures = turn_figures(obj, state.request.resume_state)
    st.figures = figures
    if figures.usage is not None:
        events.append(UsageReport(usage=figures.usage, cost_usd=figures.cost_usd))
    if is_error:
        failure = result_failure(obj, st.pending_error)
        st.error_emitted = True
        events.append(Error(message=failure.message, code=failure.code, fatal=True))
    elif st.pending_error is not None:
        pending = st.pending_error
        events.append(Error(message=pending.message, code=pending.code, fatal=False))
    st.pending_error = None
    return events


def result_failure(obj: dict[str, Any], pending: Failure | None) -> Failure:
    """The failure an ``is_error`` result reports."""
    subtype = obj.get("subtype")
    errors = [e for e in _list(obj.get("errors")) if isinstance(e, str) and e]
    text = obj.get("result")
    message = text if isinstance(text, str) and text else "; ".join(errors)
    if isinstance(subtype, str) and subtype in _RESULT_SUBTYPE_CODES:
        message = "; ".join(errors) or message or subtype
        return Failure(message, _RESULT_SUBTYPE_CODES[subtype])
    if subtype != "success" and errors:  # e.g. error_during_execution: resume of an unknown id
        return classify_message("; ".join(errors))
    if pending is not None:
        return Failure(message or pending.message, pending.code)
    message = message or f"claude reported an error ({subtype or 'no details'})"
    return Failure(message, classify_api_error(message, status=obj.get("api_error_status")))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
