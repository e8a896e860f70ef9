"""Small text-formatting helpers shared by the commands: tables, ages, durations, truncation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

__all__ = ["format_table", "parse_age", "parse_since", "time_ago", "truncate"]

_AGE_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def truncate(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...``."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def time_ago(when: datetime, now: datetime | None = None) -> str:
    """``just now``, ``5m ago``, ``3h ago``, ``2d ago`` (under 7 days), else ``YYYY-MM-DD``."""
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)}d ago"
    return when.astimezone().strftime("%Y-%m-%d")


def parse_age(text: str, *, default_unit: str = "d") -> timedelta:
    """``"30"``/``"30d"``/``"12h"``/``"2w"`` -> a timedelta; raises ``ValueError`` otherwise."""
    m = _AGE_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an age like 30d, 12h, 45m or 2w")
    return timedelta(seconds=int(m[1]) * _UNIT_SECONDS[m[2] or default_unit])


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: an age (``2d``, ``3h``) or an ISO date/time (``2026-01-31``)."""
    try:
        return (now or datetime.now(UTC)) - parse_age(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an age (30m, 12h, 2d, 1w) nor a date (2026-01-31)"
        ) from None
    return when if when.tzinfo else when.astimezone()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
