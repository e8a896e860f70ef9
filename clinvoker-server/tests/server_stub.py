"""The STUB backend: a :class:`~clinvoker.backend.Backend` whose CLI is ``server_stub_cli.py``.

Its models are the stub's modes (``stub/echo``, ``stub/slow``, ``stub/crash``...), so model
routing picks the behaviour. A second backend, ``stub2``, exists to test per-backend limits.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from clinvoker.backend import Backend
from clinvoker.events import Error, Event, SessionStarted, TextDelta, UsageReport
from clinvoker.hookspecs import hookimpl
from clinvoker.plugins import PluginHost
from clinvoker.request import Command, ParseState, RunRequest
from clinvoker.result import Usage

STUB_CLI = Path(__file__).with_name("server_stub_cli.py")
MODES = ("echo", "trace", "slow", "crash", "error", "hang", "perm", "pwd")


class StubBackend(Backend):
    name = "stub"
    executable = sys.executable
    display_name = "Stub"
    models = MODES
    model_aliases: ClassVar[Mapping[str, str]] = {"fast": "echo"}
    capabilities = frozenset({"resume", "system_prompt", "stream"})

    def build_command(self, request: RunRequest) -> Command:
        argv = [sys.executable, str(STUB_CLI), "--model", request.model or "echo"]
        argv += ["--perm", f"{request.approval_mode}/{request.sandbox_mode}"]
        if request.resume_session_id:
            argv += ["--session", request.resume_session_id]
        if request.system_prompt:
            argv += ["--system", request.system_prompt]
        argv += request.extra_flags
        return Command(argv=(*argv, "--", request.prompt), cwd=request.workdir)

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        try:
            data: dict[str, Any] = json.loads(line)
        except ValueError:
            return []
        kind = data.get("type")
        if kind == "init":
            return [SessionStarted(session_id=data["session_id"], model=data.get("model"))]
        if kind == "delta":
            return [TextDelta(text=data["text"])]
        if kind == "error":
            return [Error(message=data["message"], code=data.get("code"))]
        if kind == "usage":
            usage = Usage(
                input_tokens=data["input_tokens"],
                output_tokens=data["output_tokens"],
                cached_tokens=data.get("cached_tokens", 0),
            )
            return [UsageReport(usage=usage)]
        return []


class Stub2Backend(StubBackend):
    name = "stub2"
    display_name = "Stub two"


class StubPlugin:
    """Registers both stub backends."""

    @hookimpl
    def clinvoker_register_backends(self, register: Any) -> None:
        register(StubBackend())
        register(Stub2Backend())


def stub_host() -> PluginHost:
    """A plugin host with only the stub backends (no entry points)."""
    return PluginHost(plugins=[("stub", StubPlugin())], load_entry_points=False)
