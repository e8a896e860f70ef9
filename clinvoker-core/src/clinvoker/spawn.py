"""Starting a CLI process: the synchronous half of :mod:`clinvoker.runner` (no asyncio here).

:func:`spawn` starts a :class:`~clinvoker.request.Command` the way every CLI is started (argv
only, its own session and process group, stdout and stderr piped, stdin piped only when the
command has input) and registers its group with :mod:`clinvoker.watchdog`. The runner then
drives the returned :class:`Spawned` from the event loop.

It is separate so that ``clinvk PROMPT`` can start the CLI before it imports asyncio, the
renderers and the session store: the CLI's own start-up (hundreds of milliseconds) then hides
that work instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping

from clinvoker import watchdog
from clinvoker.errors import BackendUnavailable, UsageError
from clinvoker.invocation import Invocation
from clinvoker.request import Command

__all__ = ["Spawned", "spawn"]


class Spawned:
    """A started CLI process that no event loop watches yet.

    :ivar command: what was started.
    :ivar invocation: its argv, environment and temporary files (removed by the runner).
    :ivar popen: the process; its ``stdin`` is a pipe only when ``command.stdin`` is set.
    :ivar started_at: ``time.monotonic()`` just after the spawn (timeouts count from here).
    """

    __slots__ = ("command", "invocation", "popen", "started_at")

    def __init__(
        self,
        command: Command,
        invocation: Invocation,
        popen: subprocess.Popen[bytes],
        started_at: float,
    ) -> None:
        self.command = command
        self.invocation = invocation
        self.popen = popen
        self.started_at = started_at

    @property
    def pid(self) -> int:
        return self.popen.pid

    def abandon(self) -> None:
        """Stop it without an event loop (the caller failed before handing it to the runner).

        SIGKILLs the whole process group, reaps the leader, closes the pipes and removes the
        temporary files. Safe to call more than once.
        """
        if self.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            from clinvoker.process_group import KILL_SETTLE_S, group_has_live_members

            deadline = time.monotonic() + KILL_SETTLE_S
            while group_has_live_members(self.popen.pid) and time.monotonic() < deadline:
                time.sleep(0.01)  # SIGKILLed members take a moment to die
        watchdog.untrack(self.popen.pid)
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()
        self.invocation.cleanup()


def spawn(
    command: Command, *, executable: str | None = None, extra_env: Mapping[str, str] | None = None
) -> Spawned:
    """Start ``command`` (``executable`` replaces ``argv[0]``; ``extra_env`` goes over its env).

    :raises BackendUnavailable: the executable cannot be started (missing, not executable).
    :raises UsageError: the working directory does not exist, or an argument or environment
        value contains a NUL character.
    """
    invocation = Invocation(command, executable or command.argv[0], extra_env)
    try:
        argv = invocation.argv
        try:
            popen = subprocess.Popen(
                argv,
                bufsize=0,
                stdin=subprocess.PIPE if command.stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=command.cwd,
                env=invocation.env,
                start_new_session=True,
            )
        except OSError as exc:
            raise BackendUnavailable(
                f"cannot start {argv[0]!r}: {exc.strerror or exc}",
                hint="check that the CLI is installed and executable",
            ) from exc
        except ValueError as exc:  # e.g. "embedded null byte" in an argument or env value
            raise UsageError(
                f"cannot start {argv[0]!r}: {exc}",
                hint="a NUL character cannot be passed on a command line; "
                "remove it from the prompt or flags",
            ) from exc
    except BaseException:
        invocation.cleanup()
        raise
    started_at = time.monotonic()
    watchdog.track(popen.pid)
    return Spawned(command, invocation, popen, started_at)
