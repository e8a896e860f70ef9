"""Test doubles for the core runtime: a tiny backend plugin and an installer for ``fake-cli``.

``FakeBackend`` is written exactly like a real backend package would be (a ``Backend`` subclass
plus a registration hook); ``fake-cli`` (``fake_cli.py``) is a real executable on ``PATH``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from clinvoker.backend import Backend, fold_events
from clinvoker.events import Error, Event, Message, SessionStarted, TextDelta, UsageReport
from clinvoker.hookspecs import hookimpl
from clinvoker.plugins import PluginHost
from clinvoker.request import Command, ParseState, RunOutput, RunRequest
from clinvoker.result import Result, Usage

FAKE_CLI = Path(__file__).with_name("fake_cli.py")


class FakeBackend(Backend):
    """Drives ``fake-cli``; maps the request the way the real backends do."""

    name = "fake"
    executable = "fake-cli"
    install_hint = "pip install fake-cli"
    tested_versions = ">=1.4,<2"
    default_model = "fake-default"
    models = ("fake-default", "fake-mini", "fake-max")
    model_aliases: ClassVar[Mapping[str, str]] = {"fast": "fake-mini", "best": "fake-max"}
    capabilities = frozenset({"resume", "session_id", "ephemeral", "stream", "system_prompt"})

    def build_command(self, request: RunRequest) -> Command:
        argv = [self.executable]
        files: dict[str, bytes] = {}
        if request.model:
            argv += ["--model", request.model]
        if request.resume_session_id:
            argv += ["--resume", request.resume_session_id]
        elif request.new_session_id:
            argv += ["--session-id", request.new_session_id]
        if request.resume_state:
            argv += ["--resume-state", json.dumps(request.resume_state)]
        if request.ephemeral:
            argv.append("--ephemeral")
        if request.system_prompt:
            files["system.md"] = request.system_prompt.encode()
            argv += ["--system-prompt-file", "{file:system.md}"]
        argv += ["--output", request.output, *request.extra_flags, "--", request.prompt]
        return Command(argv=tuple(argv), env=dict(request.env), cwd=request.workdir, files=files)

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        try:
            obj = json.loads(line)
        except ValueError:
            return [Error(message=f"not JSON: {line[:60]!r}", code="unparsed_line", fatal=False)]
        kind = obj.get("type")
        if kind == "init":
            state.data["init"] = obj
            return [SessionStarted(session_id=obj["session_id"], model=obj.get("model"))]
        if kind == "text":
            state.data["text"] = state.data.get("text", "") + obj["text"]
            return [TextDelta(text=obj["text"])]
        if kind == "env":
            state.data.setdefault("env", {})[obj["name"]] = obj["value"]
            return []
        if kind == "error":
            return [Error(message=obj["message"], code="server_error")]
        if kind == "result":
            usage = Usage(input_tokens=obj["usage"]["input"], output_tokens=obj["usage"]["output"])
            return [
                Message(text=state.data.get("text", "")),
                UsageReport(usage=usage, cost_usd=obj.get("cost")),
            ]
        return []

    def parse_output(self, output: RunOutput) -> Result:
        if output.request.output == "text" and output.stdout is not None:
            return Result(
                backend=self.name, content=output.stdout.decode(), exit_code=output.exit_code
            )
        result = super().parse_output(output)
        state = output.state if isinstance(output.state, ParseState) else None
        init: dict[str, Any] = state.data.get("init", {}) if state else {}
        seen = init.get("state", {}).get("turns", 0)
        return msgspec.structs.replace(result, backend_state={"turns": seen + 1})

    def cleanup_commands(self, request: RunRequest, result: Result) -> list[Command]:
        if request.ephemeral and result.session_id:
            return [Command(argv=(self.executable, "--delete-session", result.session_id))]
        return []


class OtherFakeBackend(FakeBackend):
    """A second backend on the same ``fake-cli`` (for compare)."""

    name = "fake2"
    default_model = "other-default"


@hookimpl
def clinvoker_register_backends(register: Any) -> None:
    register(FakeBackend())
    register(OtherFakeBackend())


class _Plugin:
    """The module-like plugin object registered with the host."""

    clinvoker_register_backends = staticmethod(clinvoker_register_backends)


def fake_host() -> PluginHost:
    """A plugin host with only the fake backend (no entry points)."""
    return PluginHost(plugins=[("fake", _Plugin())], load_entry_points=False)


def install_fake_cli(bin_dir: Path, name: str = "fake-cli") -> Path:
    """Write an executable ``fake-cli`` into ``bin_dir`` that runs ``fake_cli.py``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / name
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_CLI}" "$@"\n', encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def fold(output: RunOutput) -> Result:
    """The default fold, re-exported for tests that compare against it."""
    return fold_events("fake", output)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The calls ``fake-cli`` recorded in ``$FAKE_CLI_LOG``."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for a reaper is not alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


class FakeWorld:
    """An isolated clinvk home, ``fake-cli`` on ``PATH`` and the handles a test needs."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from clinvoker.sessions import open_store

        self.root = tmp_path
        self.home = tmp_path / "home"
        self.workdir = tmp_path / "project"
        self.workdir.mkdir()
        self.log = tmp_path / "calls.jsonl"
        self.exe = install_fake_cli(tmp_path / "bin")
        monkeypatch.setenv("CLINVK_HOME", str(self.home))
        monkeypatch.delenv("CLINVK_CONFIG", raising=False)
        monkeypatch.setenv("FAKE_CLI_LOG", str(self.log))
        monkeypatch.setenv("PATH", f"{self.exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
        self.host = fake_host()
        self.config = self.load_config()
        self.store = open_store(self.config, self.host)

    def load_config(self, yaml_text: str = "") -> Any:
        """Write ``config.yaml`` (default backend ``fake``) and load it."""
        from clinvoker.config import load_config

        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "config.yaml"
        path.write_text("default_backend: fake\n" + yaml_text, encoding="utf-8")
        self.config = load_config(path)
        return self.config

    def kwargs(self, **extra: Any) -> dict[str, Any]:
        """Options for ``clinvoker.api`` calls bound to this world."""
        base: dict[str, Any] = {
            "config": self.config,
            "host": self.host,
            "store": self.store,
            "workdir": str(self.workdir),
        }
        base.update(extra)
        return base

    def calls(self) -> list[dict[str, Any]]:
        return read_log(self.log)
