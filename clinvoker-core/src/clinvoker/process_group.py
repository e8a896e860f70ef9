"""Stopping a child's whole process group: signals, grace period, and "is anyone left?".

The runner starts every CLI as the leader of a new session, so its process group id is its pid
and every helper process it starts (MCP servers, shells, node workers) is in the same group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

__all__ = [
    "KILL_SETTLE_S",
    "group_has_live_members",
    "signal_group",
    "stop_group",
    "stop_leftovers",
    "wait_dead",
    "wait_group_gone",
]

KILL_SETTLE_S = 1.0
"""How long SIGKILLed processes may take to die."""
_POLL_S = 0.02


def signal_group(pgid: int | None, sig: int) -> None:
    """Send ``sig`` to process group ``pgid`` (nothing if it is gone)."""
    if pgid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_has_live_members(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member that is not a zombie.

    Members killed after their parent died stay zombies until init reaps them (some container
    inits never do); they are dead, so they do not count.
    """
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # no /proc: trust kill(0)
    wanted = str(pgid).encode()
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[2] == wanted and fields[0] not in (b"Z", b"X"):
            return True
    return False


async def wait_group_gone(pgid: int, deadline: float) -> None:
    """Return once group ``pgid`` has no live member, or at ``deadline`` (monotonic time)."""
    while time.monotonic() < deadline:
        if not group_has_live_members(pgid):
            return
        await asyncio.sleep(_POLL_S)


async def stop_group(pgid: int, leader_exited: asyncio.Event, grace_s: float) -> None:
    """SIGTERM the group, give it ``grace_s`` seconds, SIGKILL what is left, wait for the leader."""
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(leader_exited.wait(), grace_s)
    await wait_group_gone(pgid, deadline)
    signal_group(pgid, signal.SIGKILL)
    await leader_exited.wait()
    await wait_group_gone(pgid, time.monotonic() + KILL_SETTLE_S)


async def stop_leftovers(pgid: int, grace_s: float) -> None:
    """After the leader exited on its own: stop whatever it left behind in its group."""
    if group_has_live_members(pgid):
        signal_group(pgid, signal.SIGTERM)
        await wait_group_gone(pgid, time.monotonic() + grace_s)
        signal_group(pgid, signal.SIGKILL)
        await wait_group_gone(pgid, time.monotonic() + KILL_SETTLE_S)


def wait_dead(pid: int, timeout_s: float = KILL_SETTLE_S) -> None:
    """Block until child ``pid`` has exited, without reaping it (the child watcher does that)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return  # already reaped
        if found is not None:
            return
        time.sleep(0.005)
