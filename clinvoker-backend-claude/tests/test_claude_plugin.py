"""The package plugs into clinvoker through its entry point, and stays light until used."""

from __future__ import annotations

import subprocess
import sys

from clinvoker.plugins import PluginHost
from clinvoker.request import ParseState, RunRequest
from clinvoker_claude.backend import ClaudeBackend


def test_the_entry_point_registers_the_claude_backend() -> None:
    host = PluginHost()
    backend = host.backend("claude")
    assert isinstance(backend, ClaudeBackend)
    assert not [f for f in host.failures if f.name == "claude"]


def test_the_hooks_answer_for_claude() -> None:
    host = PluginHost()
    backend = host.backend("claude")
    request = RunRequest(prompt="say hi", backend="claude", model="fast")
    command = host.build_command(backend, request)
    assert command.argv[:3] == ("claude", "-p", "--model=haiku")
    line = b'{"type":"system","subtype":"init","session_id":"abc","model":"claude-haiku-4-5"}'
    events = host.parse_stream(backend, line, ParseState(request))
    assert [type(e).__name__ for e in events] == ["SessionStarted"]


def test_loading_the_plugin_does_not_import_the_backend() -> None:
    # `clinvk --help` loads every entry point; the parser and its imports wait until a run
    code = (
        "import sys, clinvoker_claude\n"
        "print('clinvoker_claude.backend' in sys.modules, 'clinvoker_claude.stream' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]
