"""What a user must be told when the backend CLI misbehaves (shared by the fault tests).

Each fault of :mod:`reliability.support.faulty_cli` maps to the error text the user must see
(a regular expression, case-insensitive) and the ``clinvk`` exit code.
"""

from __future__ import annotations

from typing import NamedTuple

from reliability.conftest import GRACE_S, RUN_TIMEOUT_S


class Expected(NamedTuple):
    message: str
    """Pattern the error shown to the user must match."""
    exit_code: int
    """``clinvk``'s exit code."""
    waits: bool
    """The fault only ends through the timeout."""


_NO_RESULT = r"without reporting a result|without printing any .*event"

FAULTS: dict[str, Expected] = {
    "crash": Expected(r"segmentation fault while streaming", 139, waits=False),
    "hang": Expected(rf"timed out after {RUN_TIMEOUT_S}s", 124, waits=True),
    "garbage": Expected(_NO_RESULT, 1, waits=False),
    "bigline": Expected(_NO_RESULT, 1, waits=False),
    "stderr": Expected(r"upstream quota exhausted", 2, waits=False),
    "empty": Expected(_NO_RESULT, 1, waits=False),
    "noterm": Expected(rf"timed out after {RUN_TIMEOUT_S}s", 124, waits=True),
}

DEADLINE_S = RUN_TIMEOUT_S + GRACE_S + 3.0
"""Longest a faulty run may take to end in an error: timeout, SIGTERM grace, start-up slack."""
QUICK_S = RUN_TIMEOUT_S + 2.0
"""Longest a fault that needs no timeout may take (it must not wait for the timeout)."""
MAX_ERROR_BYTES = 4096
"""A user-facing error stays short, however much the CLI printed."""
