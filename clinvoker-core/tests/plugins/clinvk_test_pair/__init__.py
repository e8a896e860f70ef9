"""Two backends with different command shapes and output formats, for cross-cutting plugins.

* ``alpha`` takes the prompt after ``--`` and prints JSON lines ``{"text": ...}`` /
  ``{"tool": ...}``.
* ``beta`` takes the prompt on stdin and prints ``say: ...`` / ``call: ...`` lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from clinvoker.backend import Backend
from clinvoker.events import Event, TextDelta, ToolUse
from clinvoker.hookspecs import hookimpl
from clinvoker.request import Command, ParseState, RunRequest


class AlphaBackend(Backend):
    name = "alpha"
    executable = "alpha-cli"

    def build_command(self, request: RunRequest) -> Command:
        return Command(argv=(self.executable, "--json", "--", request.prompt))

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        data = json.loads(line)
        if "tool" in data:
            return [ToolUse(id=str(len(state.data)), name=data["tool"])]
        return [TextDelta(text=data["text"])]


class BetaBackend(Backend):
    name = "beta"
    executable = "beta-cli"

    def build_command(self, request: RunRequest) -> Command:
        return Command(argv=(self.executable, "run"), stdin=request.prompt.encode())

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        kind, _, rest = line.decode().partition(": ")
        if kind == "call":
            return [ToolUse(id="b1", name=rest)]
        return [TextDelta(text=rest)]


@hookimpl
def clinvoker_register_backends(register: Callable[[Backend], None]) -> None:
    register(AlphaBackend())
    register(BetaBackend())
