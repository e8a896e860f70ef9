"""Run a process with one directory made read-only or full, without touching anyone else.

As root, :func:`confined` wraps an argv in ``unshare --mount``: in that private mount namespace
the directory is either bind-mounted read-only onto itself, or replaced by a tiny tmpfs holding a
copy of its files plus a filler that leaves no free space. Other processes (the test itself
included) keep seeing the real directory, so they can check it afterwards.

When mount namespaces are not available (no root, a locked-down container), a *full* disk falls
back to ``RLIMIT_FSIZE`` on the writer (``prlimit``) (files may not grow past a few bytes); a *read-only*
directory falls back to ``chmod 0500`` for a non-root user. :func:`how` says which one applies.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
from pathlib import Path

__all__ = ["confined", "how", "mount_namespaces", "wrap"]

_FULL = """set -e
stage=$(mktemp -d)
cp -a "$DIR"/. "$stage"/
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$DIR"
cp -a "$stage"/. "$DIR"/
rm -rf "$stage"
head -c 1048576 /dev/zero > "$DIR/.filler" 2>/dev/null || true
exec "$@"
"""
_READ_ONLY = """set -e
mount --bind "$DIR" "$DIR"
mount -o remount,bind,ro "$DIR"
exec "$@"
"""


@functools.cache
def mount_namespaces() -> bool:
    """Whether we may mount in a private mount namespace (root with ``unshare``)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t tmpfs -o size=4k tmpfs /mnt",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


def how(state: str) -> str | None:
    """How ``state`` (``full`` / ``read-only``) is simulated here; ``None`` if it cannot be."""
    if mount_namespaces():
        return "mount"
    if state == "full":
        return "rlimit"
    return "chmod" if os.geteuid() != 0 else None


def confined(argv: list[str], directory: Path, state: str) -> list[str]:
    """``argv`` run with ``directory`` made ``state`` (``full`` or ``read-only``) by a mount."""
    script = {"full": _FULL, "read-only": _READ_ONLY}[state]
    script = f"DIR={shlex.quote(str(directory))}\n{script}"
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def wrap(argv: list[str], directory: Path, state: str) -> list[str]:
    """``argv`` run with ``directory`` made ``state`` the best way available (see :func:`how`).

    ``chmod`` is applied here, to the directory itself (undo it with ``chmod 0700``).
    """
    method = how(state)
    if method == "mount":
        return confined(argv, directory, state)
    if method == "rlimit":
        return ["prlimit", "--fsize=64", "--", *argv]
    if method == "chmod":
        directory.chmod(0o500)
        return argv
    raise RuntimeError(f"cannot make a directory {state} here (no root, no mount namespaces)")
