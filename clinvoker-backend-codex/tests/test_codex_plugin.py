"""The package as a plugin: found through its entry point, light to load, wired into the hooks."""

from __future__ import annotations

import subprocess
import sys

from clinvoker.plugins import PluginHost
from clinvoker.request import ParseState, RunOutput, RunRequest
from clinvoker_codex.backend import CodexBackend


def test_the_entry_point_registers_the_codex_backend() -> None:
    host = PluginHost()
    backend = host.backend("codex")
    assert isinstance(backend, CodexBackend)
    assert not [f for f in host.failures if f.name == "codex"]


def test_the_hooks_dispatch_to_the_codex_backend() -> None:
    host = PluginHost()
    backend = host.backend("codex")
    request = RunRequest(prompt="hi", backend="codex")
    assert host.build_command(backend, request).argv[:2] == ("codex", "exec")
    state = ParseState(request)
    events = host.parse_stream(backend, b'{"type":"thread.started","thread_id":"T"}', state)
    result = host.parse_output(
        backend, RunOutput(request=request, exit_code=0, events=tuple(events), state=state)
    )
    assert result.session_id == "T"


def test_importing_the_plugin_does_not_import_the_backend() -> None:
    """``clinvk --help`` loads every entry point; the implementation must stay unloaded."""
    code = (
        "import sys, clinvoker_codex; "
        "print(sorted(m for m in sys.modules if m.startswith('clinvoker_codex')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['clinvoker_codex']"


def test_availability_metadata() -> None:
    backend = CodexBackend()
    assert backend.executable == "codex"
    assert "@openai/codex" in backend.install_hint
    assert backend.version_args == ("--version",)
    assert backend.is_tested_version("0.169.0")
    assert not backend.is_tested_version("0.170.0")
    assert not backend.is_tested_version("0.168.9")
    assert {"resume", "continue", "system_prompt", "ephemeral", "sandbox"} <= backend.capabilities
    assert not {"max_turns", "allowed_tools", "session_id"} & backend.capabilities


def test_version_is_read_past_warnings_that_contain_numbers() -> None:
    text = "WARNING: proceeding ... (codex_home: /home/u/1.2.3/.codex)\ncodex-cli 0.169.0\n"
    assert CodexBackend().parse_version(text) == "0.169.0"
