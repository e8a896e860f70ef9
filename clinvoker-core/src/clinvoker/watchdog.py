"""Ending the CLIs' process groups when clinvoker itself is killed (even with SIGKILL).

Each CLI runs in its own session, so nothing ends it when the ``clinvk`` (or ``clinvk serve``)
process that started it dies without a chance to clean up. The first time a process is spawned,
a tiny watchdog process is started (lazily, once per clinvoker process) and connected to it by a
pipe whose write end only clinvoker holds (close-on-exec, and closed in forked children). The
runner writes ``+<pgid>`` after each spawn and ``-<pgid>`` once that group has been stopped and
reaped. When the watchdog reads end-of-file — clinvoker exited, however it died — it sends
SIGTERM to every group still registered, waits up to the grace period, SIGKILLs what is left,
and exits. A group it was told is finished is never signalled again.

The watchdog runs in its own session (a Ctrl-C to the terminal does not end it early, and it
never holds the terminal), with ``/dev/null`` as stdout and stderr and ``/`` as its directory,
and inherits no other descriptor (not even inheritable ones such as a server's listening socket).
It detaches from clinvoker at once (the process clinvoker starts forks it and exits), so it is
never one of clinvoker's children. POSIX only: elsewhere :func:`track` and :func:`untrack` do
nothing.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading

__all__ = ["GRACE_S", "WATCHDOG_SCRIPT", "track", "untrack"]

GRACE_S = 2.0
"""Seconds between the watchdog's SIGTERM and SIGKILL once clinvoker is gone."""

WATCHDOG_SCRIPT = r"""
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
if os.fork():
    os._exit(0)
os.chdir("/")
os.closerange(3, 1 << 16)
grace = float(sys.argv[1])
groups = set()
rest = b""
while True:
    try:
        chunk = os.read(0, 65536)
    except InterruptedError:
        continue
    except OSError:
        chunk = b""
    if not chunk:
        break
    *lines, rest = (rest + chunk).split(b"\n")
    for line in lines:
        try:
            pgid = int(line[1:])
        except ValueError:
            continue
        if pgid > 1 and line[:1] == b"+":
            groups.add(pgid)
        elif line[:1] == b"-":
            groups.discard(pgid)

def live(pgid):
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return True
    for name in names:
        try:
            with open("/proc/%s/stat" % name, "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] not in (b"Z", b"X"):
            return True
    return False

def signal_all(sig):
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass

signal_all(signal.SIGTERM)
deadline = time.monotonic() + grace
while groups and time.monotonic() < deadline:
    groups = {pgid for pgid in groups if live(pgid)}
    if groups:
        time.sleep(0.02)
signal_all(signal.SIGKILL)
"""
"""The watchdog's program, run as ``python -I -S -c WATCHDOG_SCRIPT <grace>`` (stdin = the pipe)."""

_LINES_PER_WRITE = getattr(select, "PIPE_BUF", 512) // len(b"+%d\n" % -(2**63))
"""Registrations per write when (re)starting, so that each write fits in ``PIPE_BUF``."""


def _warn(message: str, *args: object) -> None:
    import logging  # only when something goes wrong: importing it costs every run a few ms

    logging.getLogger(__name__).warning(message, *args)


_lock = threading.Lock()
_fd: int | None = None  # write end of the pipe to the watchdog
_starter: subprocess.Popen[bytes] | None = None  # forks the watchdog and exits; until reaped
_groups: set[int] = set()  # registered and not finished, re-sent if the watchdog is restarted
_warned = False


def track(pgid: int) -> None:
    """Register process group ``pgid`` (just spawned): it is ended if clinvoker dies first."""
    if os.name != "posix":
        return
    with _lock:
        _groups.add(pgid)
        if _fd is None:
            _start()  # sends every registered group, this one included
        else:
            _send(b"+%d\n" % pgid)
        _reap_starter()


def untrack(pgid: int) -> None:
    """Unregister process group ``pgid``: it has been stopped and reaped, so its id may be reused."""
    if os.name != "posix":
        return
    with _lock:
        if pgid not in _groups:
            return
        _groups.discard(pgid)
        if _fd is not None:
            _send(b"-%d\n" % pgid)
        _reap_starter()


def _start() -> None:
    """Start the watchdog and send it the registered groups (``_lock`` held).

    ``close_fds`` matters: ``clinvk serve``'s listening socket is inheritable (Hypercorn takes it
    by descriptor number), and a watchdog holding it would keep the port open after the server.
    """
    global _fd, _starter, _warned
    if not sys.executable:  # an embedded interpreter: nothing to run the watchdog with
        return
    read_end, write_end = os.pipe()  # both close-on-exec
    try:
        os.set_blocking(write_end, False)
        argv = [sys.executable, "-I", "-S", "-c", WATCHDOG_SCRIPT, repr(GRACE_S)]
        try:
            _starter = subprocess.Popen(
                argv,
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:  # tried again at the next spawn; said once
            if not _warned:
                _warned = True
                _warn("cannot start the watchdog that ends CLIs if clinvoker dies: %s", exc)
            os.close(write_end)
            return
    finally:
        os.close(read_end)
    _fd = write_end
    lines = [b"+%d\n" % pgid for pgid in sorted(_groups)]
    for at in range(0, len(lines), _LINES_PER_WRITE):
        _send(b"".join(lines[at : at + _LINES_PER_WRITE]))


def _send(data: bytes) -> None:
    """Write to the watchdog; if it is gone, forget it so the next spawn starts another.

    ``data`` is whole lines and at most ``PIPE_BUF`` bytes, so the non-blocking write is atomic:
    all of it or none, never a cut line the watchdog could misread as another group id.
    """
    global _fd
    if _fd is None or not data:
        return
    try:
        os.write(_fd, data)
    except BlockingIOError:  # a stalled watchdog with a full pipe; never block a spawn on it
        _warn("the watchdog is not reading; process group update dropped")
    except OSError:  # BrokenPipeError (SIGPIPE is ignored): the watchdog died
        with contextlib.suppress(OSError):
            os.close(_fd)
        _fd = None


def _reap_starter() -> None:
    """Collect the short-lived process that forked the watchdog, once it has exited."""
    global _starter
    if _starter is not None and _starter.poll() is not None:
        _starter = None


def _after_fork_in_child() -> None:
    """A forked child must not keep the pipe open (the watchdog would outlive clinvoker)."""
    global _fd, _starter, _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    if _fd is not None:
        with contextlib.suppress(OSError):
            os.close(_fd)
    if _starter is not None:
        _starter.poll()  # not this child's child: marks it done (no "still running" warning)
    _fd, _starter = None, None
    _groups.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
