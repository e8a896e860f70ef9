"""``codex exec --json`` lines → clinvoker events.

Codex prints one JSON object per line (codex 0.169)::

    thread.started {thread_id}              the conversation id, reused by `exec resume`
    turn.started
    item.started / item.updated / item.completed {item: {id, type, ...}}
        agent_message {text}                whole message, no deltas
        command_execution {command, aggregated_output, exit_code, status}
        file_change {changes: [{path, kind}], status}
        mcp_tool_call {server, tool, arguments, result, error, status}
        web_search {query}
        error {message}                     a warning; the run goes on
    turn.completed {usage}                  usage is CUMULATIVE for the thread
    error {message}                         "Reconnecting..." retry notices, or the fatal error
    turn.failed {error: {message}}          always the last line of a failed turn

Everything the final result needs is kept in :class:`RunNotes` on ``ParseState.data``.
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
from clinvoker.request import ParseState, RunRequest
from clinvoker.result import Usage

from clinvoker_codex.diagnose import classify

__all__ = ["RunNotes", "notes", "parse_line", "usage_from_dict", "usage_to_dict"]


class _Line(msgspec.Struct):
    """One JSONL event, decoded leniently: unknown fields are ignored, every field is optional."""

    type: Any = None
    thread_id: Any = None
    item: Any = None
    usage: Any = None
    error: Any = None
    message: Any = None


_decoder = msgspec.json.Decoder(_Line)

_NOTES_KEY = "codex"


class RunNotes:
    """What the parser learned about one run, read back when the final result is built."""

    __slots__ = (
        "bad_lines",
        "baseline",
        "continues",
        "cumulative",
        "denials",
        "fatal",
        "last_notice",
        "messages",
        "model",
        "started",
        "thread_id",
        "tools",
        "turns_completed",
        "turns_failed",
        "usage",
    )

    def __init__(self) -> None:
        self.started = False
        self.model: str | None = None
        self.thread_id: str | None = None
        self.messages = 0
        self.tools: set[str] = set()
        self.baseline: Usage | None = None
        self.continues = False
        self.cumulative: Usage | None = None
        self.usage: Usage | None = None
        self.fatal: tuple[str, str] | None = None
        self.last_notice: str | None = None
        self.turns_completed = 0
        self.turns_failed = 0
        self.denials: list[str] = []
        self.bad_lines = 0


def notes(state: ParseState) -> RunNotes:
    """The run's :class:`RunNotes`, created on first use."""
    found = state.data.get(_NOTES_KEY)
    if not isinstance(found, RunNotes):
        found = RunNotes()
        state.data[_NOTES_KEY] = found
    return found


def usage_from_dict(raw: Any) -> Usage | None:
    """A :class:`Usage` from codex's ``usage`` object (or from our stored copy of one)."""
    if not isinstance(raw, dict):
        return None

    def count(*keys: str) -> int:
        for key in keys:
            value = raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
        return 0

    return Usage(
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        cached_tokens=count("cached_input_tokens", "cached_tokens"),
        cache_write_tokens=count("cache_write_input_tokens", "cache_write_tokens"),
        reasoning_tokens=count("reasoning_output_tokens", "reasoning_tokens"),
    )


def usage_to_dict(usage: Usage) -> dict[str, int]:
    """The stored form of cumulative usage (codex's own key names)."""
    return {
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_tokens,
        "cache_write_input_tokens": usage.cache_write_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_output_tokens": usage.reasoning_tokens,
    }


def parse_line(line: bytes, state: ParseState) -> list[Event]:
    """Events for one line of ``codex exec`` stdout (never raises)."""
    run = notes(state)
    events: list[Event] = []
    if state.request.output == "text":
        return _text_line(line, run)
    try:
        decoded = _decoder.decode(line)
    except msgspec.DecodeError:
        if line.strip():
            run.bad_lines += 1
            if run.bad_lines == 1:
                preview = line[:200].decode("utf-8", "replace").strip()
                events.append(
                    Error(
                        message=f"codex printed a line that is not a JSON event: {preview!r}",
                        code="malformed_output",
                        fatal=False,
                    )
                )
        return events
    handler = _HANDLERS.get(decoded.type) if isinstance(decoded.type, str) else None
    if handler is not None:
        events.extend(handler(decoded, state.request, run))
    return events


def _text_line(line: bytes, run: RunNotes) -> list[Event]:
    """Text mode: stdout is the final message, line by line."""
    text = line.decode("utf-8", "replace").removesuffix("\r")
    run.messages += 1
    return [TextDelta(text=text if run.messages == 1 else "\n" + text)]


def _thread_started(ev: _Line, request: RunRequest, run: RunNotes) -> list[Event]:
    if not isinstance(ev.thread_id, str) or not ev.thread_id:
        return []
    thread = ev.thread_id
    run.thread_id = thread
    previous = request.resume_state.get("thread_id")
    forked = bool(request.resume_session_id and request.ephemeral)
    # The thread whose history (and running usage total) this run carries on, if known.
    parent = request.resume_session_id if forked else thread
    run.continues = (
        forked
        or thread == request.resume_session_id
        or (request.continue_last and previous == thread)
    )
    if previous == parent:
        run.baseline = usage_from_dict(request.resume_state.get("cumulative_usage"))
    events: list[Event] = [SessionStarted(session_id=thread, model=run.model, cwd=request.workdir)]
    if request.resume_session_id and not forked and thread != request.resume_session_id:
        events.append(
            Error(
                message=f"codex answered in thread {thread}, not in the requested thread "
                f"{request.resume_session_id}",
                code="session_mismatch",
                fatal=False,
            )
        )
    elif request.continue_last and isinstance(previous, str) and previous != thread:
        where = request.workdir or "this directory"
        events.append(
            Error(
                message=f"codex did not continue thread {previous}: `resume --last` picked thread "
                f"{thread} instead (it silently starts a new thread when no earlier one was "
                f"started in {where}); resume by id to continue a specific conversation",
                code="new_session",
                fatal=False,
            )
        )
    return events


def _turn_completed(ev: _Line, request: RunRequest, run: RunNotes) -> list[Event]:
    run.turns_completed += 1
    current = usage_from_dict(ev.usage)
    if current is None:
        return []
    run.cumulative = current
    base = run.baseline
    if base is None and run.continues:
        return [
            Error(
                message="codex reports token usage as a running total for the whole thread and "
                "the total before this turn is unknown (the thread was last used outside "
                "clinvoker or in text mode), so no usage is reported for this turn",
                code="usage_unknown",
                fatal=False,
            )
        ]
    if (
        base is not None
        and current.input_tokens >= base.input_tokens
        and current.output_tokens >= base.output_tokens
    ):
        run.usage = current - base
    else:
        run.usage = current
    return [UsageReport(usage=run.usage)]


def _turn_failed(ev: _Line, request: RunRequest, run: RunNotes) -> list[Event]:
    run.turns_failed += 1
    message = ev.error.get("message") if isinstance(ev.error, dict) else ev.error
    if not isinstance(message, str) or not message:
        message = "codex reported that the turn failed without a message"
    return _failure(message, run)


def _error(ev: _Line, request: RunRequest, run: RunNotes) -> list[Event]:
    message = ev.message if isinstance(ev.message, str) else ""
    if not message:
        return []
    if message.startswith("Reconnecting..."):
        run.last_notice = message
        return [Error(message=message, code=classify(message), fatal=False)]
    return _failure(message, run)


def _failure(message: str, run: RunNotes) -> list[Event]:
    """The run's one fatal error; later, different failure messages are kept as non-fatal."""
    if run.fatal is None:
        run.fatal = (message, classify(message))
        return [Error(message=message, code=run.fatal[1])]
    if run.fatal[0] == message:
        return []
    return [Error(message=message, code=classify(message), fatal=False)]


def _item(ev: _Line, request: RunRequest, run: RunNotes) -> list[Event]:
    item = ev.item
    if not isinstance(item, dict):
        return []
    kind = item.get("type")
    item_id = item.get("id")
    if not isinstance(kind, str) or not isinstance(item_id, str):
        return []
    done = ev.type == "item.completed"
    if kind == "agent_message":
        return _agent_message(item, run) if done else []
    if kind == "error":
        message = item.get("message")
        if done and isinstance(message, str) and message:
            return [Error(message=message, code="warning", fatal=False)]
        return []
    tool = _TOOLS.get(kind)
    if tool is None:
        return []
    events: list[Event] = []
    if item_id not in run.tools:
        run.tools.add(item_id)
        events.append(ToolUse(id=item_id, name=_tool_name(item, kind), input=tool[0](item)))
    if done:
        output, is_error, denied = tool[1](item)
        if denied:
            run.denials.append(denied)
        events.append(
            ToolResult(id=item_id, output=output, is_error=is_error, name=_tool_name(item, kind))
        )
    return events


def _agent_message(item: dict[str, Any], run: RunNotes) -> list[Event]:
    text = item.get("text")
    if not isinstance(text, str) or not text:
        return []
    events: list[Event] = []
    if run.messages:
        events.append(TextDelta(text="\n\n"))
    run.messages += 1
    events += [TextDelta(text=text), Message(text=text)]
    return events


def _tool_name(item: dict[str, Any], kind: str) -> str:
    if kind == "mcp_tool_call":
        server, tool = item.get("server"), item.get("tool")
        if isinstance(server, str) and isinstance(tool, str):
            return f"{server}.{tool}"
    return kind


def _command_input(item: dict[str, Any]) -> dict[str, Any]:
    command = item.get("command")
    return {"command": command} if isinstance(command, str) else {}


def _command_output(item: dict[str, Any]) -> tuple[str, bool, str | None]:
    output = item.get("aggregated_output")
    status = item.get("status")
    exit_code = item.get("exit_code")
    failed = status in ("failed", "declined") or (isinstance(exit_code, int) and exit_code != 0)
    denied = None
    if status == "declined":
        command = item.get("command")
        denied = (
            f"command_execution: {command}" if isinstance(command, str) else "command_execution"
        )
    return (output if isinstance(output, str) else ""), failed, denied


def _file_input(item: dict[str, Any]) -> dict[str, Any]:
    changes = item.get("changes")
    return {"changes": changes} if isinstance(changes, list) else {}


def _file_output(item: dict[str, Any]) -> tuple[str, bool, str | None]:
    changes = item.get("changes")
    lines = [
        f"{change.get('kind', 'update')} {change.get('path', '')}".strip()
        for change in (changes if isinstance(changes, list) else [])
        if isinstance(change, dict)
    ]
    return "\n".join(lines), item.get("status") == "failed", None


def _mcp_input(item: dict[str, Any]) -> dict[str, Any]:
    arguments = item.get("arguments")
    if isinstance(arguments, dict):
        return arguments
    return {} if arguments is None else {"arguments": arguments}


def _mcp_output(item: dict[str, Any]) -> tuple[str, bool, str | None]:
    error = item.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"], True, None
    result = item.get("result")
    parts: list[str] = []
    if isinstance(result, dict) and isinstance(result.get("content"), list):
        for block in result["content"]:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
    return "\n".join(parts), item.get("status") == "failed", None


def _search_input(item: dict[str, Any]) -> dict[str, Any]:
    query = item.get("query")
    return {"query": query} if isinstance(query, str) else {}


def _search_output(item: dict[str, Any]) -> tuple[str, bool, str | None]:
    return "", False, None


_TOOLS = {
    "command_execution": (_command_input, _command_output),
    "file_change": (_file_input, _file_output),
    "mcp_tool_call": (_mcp_input, _mcp_output),
    "web_search": (_search_input, _search_output),
}

_HANDLERS = {
    "thread.started": _thread_started,
    "turn.completed": _turn_completed,
    "turn.failed": _turn_failed,
    "error": _error,
    "item.started": _item,
    "item.updated": _item,
    "item.completed": _item,
}
