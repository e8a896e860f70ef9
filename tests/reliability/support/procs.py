"""What ``/proc`` says about processes: alive or not, process groups, descriptors, memory.

A zombie (exited, waiting for its parent to reap it) counts as gone: it runs nothing and holds
no pipe, and some container inits never reap the orphans a killed group leaves behind.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable

__all__ = [
    "alive",
    "children",
    "fd_count",
    "fd_targets",
    "group_members",
    "rss_kib",
    "wait_until",
]


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name: state, ppid, pgrp, ... (``None`` if gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            raw = fh.read()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _live_pids() -> Iterable[tuple[int, list[str]]]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None and fields[0] not in ("Z", "X"):
                yield int(name), fields


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    return [pid for pid, fields in _live_pids() if fields[2] == str(pgid)]


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    return [child for child, fields in _live_pids() if fields[1] == str(pid)]


def fd_count(pid: int) -> int:
    """How many file descriptors ``pid`` holds open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_targets(pid: int) -> Counter[str]:
    """What ``pid``'s descriptors point at (``socket:``, ``pipe:``, paths...), counted by kind."""
    kinds: Counter[str] = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kinds[target.split("[")[0] if "[" in target else target] += 1
    return kinds


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (``VmRSS``)."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def wait_until(
    check: Callable[[], object], *, timeout: float = 10.0, what: str = "the condition"
) -> None:
    """Poll ``check`` until it is truthy; :class:`AssertionError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)
