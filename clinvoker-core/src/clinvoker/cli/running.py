"""Driving one started run to its end for the command line (no click here).

Shared by ``clinvk PROMPT`` / ``clinvk resume`` (:mod:`clinvoker.cli.prompt`) and the fast path
of a plain prompt (:mod:`clinvoker.cli.fastrun`), which must not import click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinvoker.cli.exitcodes import BACKEND_FAILED, INTERRUPTED, NOT_INSTALLED, OK, TIMEOUT

if TYPE_CHECKING:
    from clinvoker.cli.client import Run
    from clinvoker.cli.render import Renderer
    from clinvoker.result import Result

__all__ = ["OUTPUT_FORMATS", "drive", "pick_output_format", "result_exit_code", "stdin_is_tty"]

OUTPUT_FORMATS: tuple[str, ...] = ("text", "json", "stream-json", "default")
"""The values of ``-o/--output-format``."""


def stdin_is_tty() -> bool:
    """Whether standard input is a terminal (a prompt is then not read from it)."""
    import sys

    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def pick_output_format(flag: str | None, configured: str | None) -> str:
    """``-o`` if given (and not ``default``), else config ``output.format``, else ``json``."""
    chosen = (flag or "default").lower()
    if chosen != "default":
        return chosen
    chosen = (configured or "default").lower()
    return chosen if chosen != "default" else "json"


async def drive(handle: Run, renderer: Renderer, *, native: bool) -> Result:
    """Feed the run's events (and raw lines with ``--native``) to the renderer."""
    from clinvoker.events import Done

    if native:
        handle.on_native_line = renderer.native_line
    result: Result | None = None
    async with handle:
        async for event in handle:
            renderer.event(event)
            if isinstance(event, Done):
                result = event.result
    if result is None:  # the library always ends with Done; this is a safety net
        result = await handle.result()
    renderer.finish(result)
    return result


def result_exit_code(result: Result) -> int:
    """The exit code of a finished prompt/resume run.

    Timeout 124, interrupted 130, the backend's own non-zero code, 1 for a backend-reported error
    with exit code 0, else 0.
    """
    if result.error_code == "timeout":
        return TIMEOUT
    if result.error_code == "cancelled":
        return INTERRUPTED
    if result.error_code == "backend_unavailable":
        return NOT_INSTALLED
    if result.exit_code != 0:
        return result.exit_code if 0 < result.exit_code < 256 else BACKEND_FAILED
    if result.error:
        return BACKEND_FAILED
    return OK
