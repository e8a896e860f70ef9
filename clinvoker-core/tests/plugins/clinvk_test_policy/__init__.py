"""A policy plugin: every backend's command gets ``--policy=strict`` and ``POLICY=strict``."""

from __future__ import annotations

from collections.abc import Generator

import msgspec
from clinvoker.backend import Backend
from clinvoker.hookspecs import hookimpl
from clinvoker.request import Command, RunRequest


@hookimpl(wrapper=True)
def clinvoker_build_command(
    backend: Backend, request: RunRequest
) -> Generator[None, Command | None, Command | None]:
    command = yield
    if command is None:
        return None
    argv = (command.argv[0], "--policy=strict", *command.argv[1:])
    return msgspec.structs.replace(command, argv=argv, env={**command.env, "POLICY": "strict"})
