"""clinvoker backend plugin for OpenAI's Codex CLI (``codex exec``).

This module stays light: ``clinvk --help`` loads every entry point, so the backend class is
imported only when the set of backends is first needed.
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
    """Register the ``codex`` backend."""
    from clinvoker_codex.backend import CodexBackend

    register(CodexBackend())
