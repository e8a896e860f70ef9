"""clinvoker backend plugin for Google's Gemini CLI (``gemini``).

This module is what the ``clinvoker`` entry point loads, also for ``clinvk --help``: it stays
light and imports the backend implementation only when backends are actually registered.
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
    """Register the ``gemini`` backend."""
    from clinvoker_gemini.backend import GeminiBackend

    register(GeminiBackend())
