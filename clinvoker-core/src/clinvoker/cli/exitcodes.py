"""Exit codes of ``clinvk`` and the ONE place where errors become a message and an exit code.

Every command returns an ``int`` exit code or raises; :func:`report` turns whatever was raised
into one line on stderr (``Error: ...``) and the documented exit code. Tracebacks are
printed only with ``--debug``. Click is imported only by :func:`report` and
:func:`exit_code_for`, so the constants cost nothing to import.
"""

from __future__ import annotations

import contextlib
import sys
import traceback

__all__ = [
    "BACKEND_FAILED",
    "CONFIG",
    "EXIT_CODES",
    "INTERRUPTED",
    "NOT_INSTALLED",
    "OK",
    "SESSION",
    "TIMEOUT",
    "USAGE",
    "exit_code_for",
    "exit_codes_text",
    "report",
]

OK = 0
BACKEND_FAILED = 1
USAGE = 2
CONFIG = 3
NOT_INSTALLED = 4
SESSION = 5
TIMEOUT = 124
INTERRUPTED = 130

EXIT_CODES: tuple[tuple[str, str], ...] = (
    ("0", "success"),
    ("1", "general error, or the backend reported an error (also when its CLI exited 0)"),
    ("2", "usage error: unknown flag or command, bad value, unknown backend, bad task file"),
    ("3", "configuration error: invalid config file, config value or CLINVK_* variable"),
    ("4", "the backend's CLI is not installed (the message says how to install it)"),
    ("5", "session error: unknown or ambiguous session id, unreadable session store"),
    ("124", "the run exceeded --timeout (or unified_flags.command_timeout_secs)"),
    ("130", "interrupted (Ctrl-C, SIGTERM, SIGHUP); every backend process was stopped"),
    ("N", "prompt and resume: the backend CLI's own non-zero exit code is passed through"),
)
"""The documented exit codes (README and ``clinvk help exit-codes`` print this table)."""


def exit_codes_text() -> str:
    """The exit-code table as aligned plain text."""
    return "\n".join(f"  {code:>4}  {meaning}" for code, meaning in EXIT_CODES)


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception that reached the top of ``clinvk``."""
    import click

    from clinvoker.errors import ClinvokerError

    if isinstance(exc, ClinvokerError):
        return exc.exit_code
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        return exc.exit_code  # UsageError and BadParameter are 2
    if isinstance(exc, click.Abort | KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else BACKEND_FAILED)
    return BACKEND_FAILED


def report(exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` for a user (one line, or the click usage block) and return the exit code."""
    import click

    from clinvoker.errors import ClinvokerError

    code = exit_code_for(exc)
    if isinstance(exc, click.exceptions.Exit | SystemExit):
        return code
    if debug and not isinstance(exc, click.ClickException):
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, click.ClickException):
        exc.show()
    elif isinstance(exc, click.Abort | KeyboardInterrupt):
        _stderr("Interrupted.")
    elif isinstance(exc, BrokenPipeError):
        _silence_stdout()
        return BACKEND_FAILED
    elif isinstance(exc, ClinvokerError):
        _stderr(f"Error: {exc}")
    else:
        _stderr(f"Error: internal error: {type(exc).__name__}: {_one_line(str(exc))}")
        if not debug:
            _stderr("Run again with --debug to see the traceback, and please report it.")
    return code


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _stderr(line: str) -> None:
    import click

    with contextlib.suppress(OSError):
        click.echo(line, err=True)


def _silence_stdout() -> None:
    """After a closed pipe (``clinvk ... | head``), stop Python complaining at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
