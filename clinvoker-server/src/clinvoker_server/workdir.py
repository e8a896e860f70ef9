"""Which working directories an API request may run a backend in.

A requested workdir must be absolute and exist; it is resolved to its real path (symlinks
followed) and then checked, at path-component boundaries, against:

1. the blocked prefixes — the built-in system directories **plus** ``server.blocked_workdir_prefixes``
   (the configured list extends the defaults; it never replaces them);
2. ``server.allowed_workdir_prefixes``, when set;
3. the key's ``workdir_roots``, when its policy has them.

Prefixes are resolved too, so a symlinked allow-list entry matches its target. An empty
workdir means the server's own working directory (as in the Go tool).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from clinvoker.errors import Forbidden, ValidationError

from clinvoker_server.errors import invalid_field

__all__ = ["DEFAULT_BLOCKED", "WorkdirPolicy"]

DEFAULT_BLOCKED: tuple[str, ...] = (
    "/etc",
    "/var/run",
    "/run",
    "/var/lock",
    "/root",
    "/sys",
    "/proc",
    "/dev",
    "/usr/bin",
    "/usr/sbin",
    "/bin",
    "/sbin",
    "/boot",
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/var/lib",
    "/var/log",
    "/var/spool",
    "/var/db",
)


def _real(prefix: str) -> str:
    return os.path.realpath(os.path.expanduser(prefix))


def _under(path: str, prefix: str) -> bool:
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


class WorkdirPolicy:
    """The server's allow and deny lists (resolved once)."""

    def __init__(self, allowed: Iterable[str] = (), blocked: Iterable[str] = ()) -> None:
        extra = [b for b in blocked if b.strip()]
        entries = list(DEFAULT_BLOCKED) + extra
        self.blocked = tuple(dict.fromkeys(p for e in entries for p in {e, _real(e)}))
        self.allowed = tuple(dict.fromkeys(_real(a) for a in allowed if a.strip()))

    def check(
        self, workdir: str | None, *, roots: Iterable[str] = (), param: str = "workdir"
    ) -> str | None:
        """The resolved directory to run in, or a 422/403 error saying why not.

        ``None`` (no workdir asked for) stays ``None`` — the server's own directory — unless the
        key has ``workdir_roots``, in which case its first root is used.
        """
        roots = [r for r in roots if r.strip()]
        if not workdir:
            if not roots:
                return None
            workdir = roots[0]
        raw = workdir
        if "\x00" in raw:
            raise invalid_field(
                "invalid work directory: it contains a NUL character", param, cls=ValidationError
            )
        if not os.path.isabs(raw):
            raise invalid_field(
                f"invalid work directory {raw!r}: must be an absolute path",
                param,
                cls=ValidationError,
            )
        real = os.path.realpath(raw)
        if not os.path.exists(real):
            raise invalid_field(f"work directory does not exist: {raw}", param, cls=ValidationError)
        for prefix in self.blocked:
            if _under(real, prefix):
                raise _forbidden(
                    f"work directory not allowed: {raw} (blocked path {prefix})", param
                )
        if self.allowed and not any(_under(real, a) for a in self.allowed):
            raise _forbidden(
                f"work directory not allowed: {raw} (not under server.allowed_workdir_prefixes)",
                param,
            )
        key_roots = [_real(r) for r in roots if r.strip()]
        if key_roots and not any(_under(real, r) for r in key_roots):
            raise _forbidden(
                f"work directory not allowed: {raw} (outside this API key's workdir_roots)", param
            )
        if not Path(real).is_dir():
            raise invalid_field(
                f"work directory is not a directory: {raw}", param, cls=ValidationError
            )
        return real


def _forbidden(message: str, param: str) -> Forbidden:
    exc = Forbidden(message, hint="choose a directory the server allows")
    exc.param = param  # type: ignore[attr-defined]
    return exc
