"""Per-session lock files that clean up after themselves.

A lock is an exclusive ``flock`` lock on ``.<id>.lock`` in the session directory (through
``portalocker`` on Windows; elsewhere ``fcntl`` directly, because importing portalocker reads
package metadata and costs more than the rest of a session update, see benchmarks/RESULTS.md).
It works between processes and between threads (each holder opens its own file).

The holder removes the file *before* releasing the lock, so no lock files pile up. That opens
one gap, closed here: a process that opened the file just before it was removed ends up locking
a file that is no longer in the directory, which guards nothing. So after acquiring, a holder
checks that the file it locked is still the one at that path, and starts over if not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

__all__ = ["hold", "remove_if_unheld"]

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import portalocker

    def _lock(fh: IO[bytes], *, wait: bool) -> bool:
        flags = portalocker.LOCK_EX if wait else portalocker.LOCK_EX | portalocker.LOCK_NB
        try:
            portalocker.lock(fh, flags)
        except portalocker.LockException:
            return False
        return True

else:
    import fcntl

    def _lock(fh: IO[bytes], *, wait: bool) -> bool:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@contextmanager
def hold(path: Path) -> Iterator[None]:
    """Hold the lock at ``path`` (waiting for it as long as it takes); remove it on release.

    :raises OSError: the lock file cannot be created (read-only or full disk, permissions).
    """
    while True:
        fh: IO[bytes] = open(path, "a+b")  # noqa: SIM115 - closed below
        try:
            _lock(fh, wait=True)
            same = _still_at(fh, path)
        except BaseException:
            fh.close()
            raise
        if same:
            break
        fh.close()
    try:
        yield
    finally:
        with suppress(OSError):  # e.g. Windows, where an open file cannot be removed
            path.unlink()
        fh.close()


def remove_if_unheld(path: Path) -> bool:
    """Remove a lock file that nobody holds (left by a crashed process); ``False`` if held."""
    with open(path, "a+b") as fh:
        if not _lock(fh, wait=False):
            return False
        if _still_at(fh, path):
            path.unlink()
        return True


def _still_at(fh: IO[bytes], path: Path) -> bool:
    """Whether the file we locked is still the one at ``path``."""
    try:
        return os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
    except FileNotFoundError:
        return False
