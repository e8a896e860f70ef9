"""A well-behaved third-party backend plugin: one backend, ``good``, that wraps ``cat``."""

from __future__ import annotations

from collections.abc import Callable

from clinvoker.backend import Backend
from clinvoker.events import Event, TextDelta
from clinvoker.hookspecs import hookimpl
from clinvoker.request import Command, ParseState, RunRequest


class GoodBackend(Backend):
    name = "good"
    executable = "cat"
    install_hint = "cat comes with every POSIX system"

    def build_command(self, request: RunRequest) -> Command:
        return Command(argv=(self.executable,), stdin=request.prompt.encode())

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        return [TextDelta(text=line.decode() + "\n")]


@hookimpl
def clinvoker_register_backends(register: Callable[[Backend], None]) -> None:
    register(GoodBackend())
