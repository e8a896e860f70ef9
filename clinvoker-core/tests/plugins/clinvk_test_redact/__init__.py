"""A redaction plugin: masks ``hunter2`` in every backend's text and drops tool calls."""

from __future__ import annotations

from collections.abc import Generator

import msgspec
from clinvoker.backend import Backend
from clinvoker.events import Event, TextDelta, ToolUse
from clinvoker.hookspecs import hookimpl
from clinvoker.request import ParseState

SECRET = "hunter2"


@hookimpl(wrapper=True)
def clinvoker_parse_stream(
    backend: Backend, line: bytes, state: ParseState
) -> Generator[None, list[Event] | None, list[Event] | None]:
    events = yield
    if events is None:
        return None
    kept: list[Event] = []
    for event in events:
        if isinstance(event, ToolUse):
            continue
        if isinstance(event, TextDelta) and SECRET in event.text:
            event = msgspec.structs.replace(event, text=event.text.replace(SECRET, "[redacted]"))
        kept.append(event)
    return kept
