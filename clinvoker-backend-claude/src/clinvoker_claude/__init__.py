"""clinvoker backend for Claude Code (``claude``).

This module is what the ``clinvoker`` entry point loads, also for ``clinvk --help``, so it only
holds the registration hook; the backend itself is imported when backends are first needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from clinvoker.hookspecs import hookimpl

if TYPE_CHECKING:
    from clinvoker.backend import Backend

__all__ = ["clinvoker_register_backends"]


@hookimpl
def clinvoker_register_backends(register: Callable[[Backend], None]) -> None:
    """Register the ``claude`` backend."""
    from clinvoker_claude.backend import ClaudeBackend

    register(ClaudeBackend())
