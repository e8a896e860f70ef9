"""The values of the unified mode options, shared by the request contract (:mod:`clinvoker.request`)
and the command line (click's choices and the fast path's). No imports: cheap for everyone."""

from __future__ import annotations

__all__ = ["APPROVAL_MODES", "SANDBOX_MODES"]

APPROVAL_MODES: tuple[str, ...] = ("default", "auto", "none", "always")
"""``default``, ``auto`` (approve edits), ``none`` (never ask), ``always`` (ask for everything)."""
SANDBOX_MODES: tuple[str, ...] = ("default", "read-only", "workspace", "full")
"""``default``, ``read-only``, ``workspace`` (write inside the workdir), ``full`` (no sandbox)."""
