"""Running the async library from the command line, with signals that stop every backend.

Ctrl-C (SIGINT) cancels the running work (asyncio does that by itself); SIGTERM and SIGHUP do the
same here, so ``kill`` or a closed terminal also stops the backend process groups instead of
leaving them behind. Either way ``clinvk`` then exits 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from clinvoker.errors import Cancelled

__all__ = ["run_async", "stopped_by"]

T = TypeVar("T")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def run_async(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work()`` to completion in a new event loop.

    :raises KeyboardInterrupt: on Ctrl-C, after everything was stopped.
    :raises Cancelled: on SIGTERM/SIGHUP, after everything was stopped.
    """
    received: list[int] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        # A signal the user told the shell to ignore (``nohup`` ignores SIGHUP) stays ignored.
        handled = [s for s in _STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
        for sig in handled:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, _stop, task, sig, received)
        try:
            return await work()
        finally:
            for sig in handled:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        if received:
            raise stopped_by(received[0]) from None
        raise


def stopped_by(sig: int) -> Cancelled:
    """The error ``clinvk`` ends with when SIGTERM or SIGHUP stopped its run (exit 130)."""
    name = signal.Signals(sig).name
    return Cancelled(f"stopped by {name}; every backend process was stopped")


def _stop(task: asyncio.Task[Any], sig: int, received: list[int]) -> None:
    received.append(sig)
    task.cancel()
