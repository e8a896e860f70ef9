"""Loopback helpers for running inside a fresh network namespace (``unshare -n``).

A new namespace starts with ``lo`` down, so nothing can connect to 127.0.0.1. ``nox -s
integration`` runs ``ip link set lo up`` first; :func:`ensure_loopback` does the same from Python
(root in the namespace only) for machines without ``ip``; ``python tests/support/netns.py`` runs it
as a program.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct

__all__ = ["bring_loopback_up", "ensure_loopback", "loopback_works"]

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq: name, flags, padding to 40 bytes


def loopback_works(port: int) -> bool:
    """True when a TCP connection to ``127.0.0.1:port`` can be made."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        if exc.errno in {errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.ECONNREFUSED}:
            return False
        raise
    return True


def bring_loopback_up() -> None:
    """Set the ``lo`` interface up (what ``ip link set lo up`` does); :class:`OSError` if not allowed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def ensure_loopback(port: int) -> None:
    """Make ``127.0.0.1:port`` reachable, bringing ``lo`` up if needed; raise a clear error if not."""
    if loopback_works(port):
        return
    try:
        bring_loopback_up()
    except OSError as exc:
        raise RuntimeError(
            f"cannot reach 127.0.0.1:{port} and could not bring the loopback interface up ({exc}); "
            "inside a network namespace run `ip link set lo up` first"
        ) from exc
    if not loopback_works(port):
        raise RuntimeError(f"127.0.0.1:{port} is still unreachable after bringing `lo` up")


if __name__ == "__main__":
    try:
        bring_loopback_up()
    except OSError as exc:
        raise SystemExit(f"could not bring the loopback interface up: {exc}") from None
