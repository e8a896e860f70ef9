"""Live progress of ``parallel`` / ``chain`` / ``compare`` on a terminal (stderr only).

One line per task: spinner, label, status, elapsed time. It is redrawn in place by a small
thread, and only when stderr is a terminal; piped or redirected output never sees it (no ANSI).
Output printed while it runs goes through :meth:`Progress.emit`, which writes it above the
progress lines so the two never garble each other on a terminal.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from typing import IO

__all__ = ["Progress", "make_progress"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_MARKS = {"completed": "✓", "failed": "✗", "cancelled": "–", "skipped": "–", "pending": "·"}
_INTERVAL_S = 0.1
_MAX_ROWS = 20


@dataclasses.dataclass
class _Row:
    label: str
    status: str = "pending"
    started: float | None = None
    ended: float | None = None

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or now) - self.started


class Progress:
    """Task rows redrawn in place on a terminal. Thread-safe; a no-op when disabled."""

    def __init__(self, stream: IO[str] | None, labels: list[str]) -> None:
        self._stream = stream
        self._rows = [_Row(label) for label in labels]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = 0
        self._tick = 0

    @property
    def enabled(self) -> bool:
        return self._stream is not None

    def __enter__(self) -> Progress:
        if self._stream is not None:
            self._thread = threading.Thread(target=self._loop, name="clinvk-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Draw the final state once and stop redrawing."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._draw()

    def update(self, index: int, status: str) -> None:
        """Set task ``index``'s status: ``running``, ``completed``, ``failed``, ``cancelled``, ``skipped``."""
        if not 0 <= index < len(self._rows):
            return
        now = time.monotonic()
        with self._lock:
            row = self._rows[index]
            if status == "running" and row.started is None:
                row.started = now
            elif status != "running" and row.started is not None and row.ended is None:
                row.ended = now
            row.status = status

    def emit(self, stream: IO[str], text: str) -> None:
        """Write ``text`` to ``stream`` above the progress lines (which are redrawn after)."""
        with self._lock:
            if self._stream is not None and self._drawn:
                try:
                    self._stream.write(f"\x1b[{self._drawn}F\x1b[J")
                    self._stream.flush()
                except (OSError, ValueError):
                    self._stream = None
                self._drawn = 0
            stream.write(text)
            stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(_INTERVAL_S):
            self._draw()

    def _draw(self) -> None:
        stream = self._stream
        if stream is None:
            return
        now = time.monotonic()
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        with self._lock:
            self._tick += 1
            spin = _SPINNER[self._tick % len(_SPINNER)]
            rows = self._rows[:_MAX_ROWS]
            lines = []
            for i, row in enumerate(rows, 1):
                mark = spin if row.status == "running" else _MARKS.get(row.status, " ")
                text = f"{mark} [{i}] {row.status:<9} {row.elapsed(now):6.1f}s  {row.label}"
                lines.append(text[:width])
            hidden = len(self._rows) - len(rows)
            if hidden > 0:
                running = sum(1 for r in self._rows[_MAX_ROWS:] if r.status == "running")
                lines.append(f"  ... {hidden} more tasks ({running} running)"[:width])
            out = ""
            if self._drawn:
                out += f"\x1b[{self._drawn}F"
            out += "".join(f"\x1b[2K{line}\n" for line in lines)
            self._drawn = len(lines)
        try:
            stream.write(out)
            stream.flush()
        except (OSError, ValueError):
            self._stream = None


def make_progress(stream: IO[str], labels: list[str], *, enabled: bool) -> Progress:
    """A :class:`Progress` drawing on ``stream`` when ``enabled`` and it is a terminal."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return Progress(stream if enabled and tty else None, labels)
