"""clinvoker: one command line and one library for the AI coding CLIs.

Library use, no click needed::

    import clinvoker

    result = clinvoker.run_sync("explain this repo", backend="claude")
    print(result.content, result.session_id)

    async for event in clinvoker.stream("fix the test", backend="codex"):
        ...

Heavy modules are imported on first use, so ``import clinvoker`` is cheap.
"""

from __future__ import annotations

# Not ``from typing import TYPE_CHECKING``: every ``clinvk`` start-up imports this package, and
# typing costs about as much as the interpreter's own start-up (benchmarks/RESULTS.md).
# Type checkers treat a name TYPE_CHECKING as true.
TYPE_CHECKING = False

__version__ = "0.1.0"

_LAZY = {
    "run": "clinvoker.api",
    "run_sync": "clinvoker.api",
    "stream": "clinvoker.api",
    "start": "clinvoker.api",
    "prepare": "clinvoker.api",
    "raise_for_error": "clinvoker.api",
    "RunHandle": "clinvoker.api",
    "RunRequest": "clinvoker.request",
    "Command": "clinvoker.request",
    "Result": "clinvoker.result",
    "Usage": "clinvoker.result",
    "Backend": "clinvoker.backend",
    "hookimpl": "clinvoker.hookspecs",
    "Config": "clinvoker.config",
    "load_config": "clinvoker.config",
    "Session": "clinvoker.sessions",
    "SessionStore": "clinvoker.sessions",
    "open_store": "clinvoker.sessions",
    "ClinvokerError": "clinvoker.errors",
    "get_host": "clinvoker.plugins",
}

__all__ = [
    "Backend",
    "ClinvokerError",
    "Command",
    "Config",
    "Result",
    "RunHandle",
    "RunRequest",
    "Session",
    "SessionStore",
    "Usage",
    "__version__",
    "get_host",
    "hookimpl",
    "load_config",
    "open_store",
    "prepare",
    "raise_for_error",
    "run",
    "run_sync",
    "start",
    "stream",
]

if TYPE_CHECKING:
    from typing import Any

    from clinvoker.api import RunHandle, prepare, raise_for_error, run, run_sync, start, stream
    from clinvoker.backend import Backend
    from clinvoker.config import Config, load_config
    from clinvoker.errors import ClinvokerError
    from clinvoker.hookspecs import hookimpl
    from clinvoker.plugins import get_host
    from clinvoker.request import Command, RunRequest
    from clinvoker.result import Result, Usage
    from clinvoker.sessions import Session, SessionStore, open_store


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clinvoker' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
