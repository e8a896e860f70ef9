"""The package plugs into clinvoker through its entry point, lazily."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import clinvoker_gemini
from clinvoker.plugins import PluginHost
from clinvoker.request import RunRequest
from clinvoker_gemini.backend import GeminiBackend


def test_entry_point_names_the_plugin_module() -> None:
    (ep,) = [ep for ep in entry_points(group="clinvoker") if ep.name == "gemini"]
    assert ep.value == "clinvoker_gemini"


def test_host_registers_the_backend_and_dispatches_to_it() -> None:
    host = PluginHost(load_entry_points=False, plugins=[("gemini", clinvoker_gemini)])
    backend = host.backend("gemini")
    assert isinstance(backend, GeminiBackend)
    cmd = host.build_command(backend, RunRequest(prompt="hi", backend="gemini"))
    assert cmd.argv[0] == "gemini"
    assert host.failures == []


def test_loading_the_plugin_does_not_import_the_backend() -> None:
    code = (
        "import sys, clinvoker_gemini; "
        "assert 'clinvoker_gemini.backend' not in sys.modules, 'backend imported eagerly'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
