"""Splitting a child's stdout into lines, with no small fixed limit but a hard cap.

Chunks are appended as they arrive and only the new chunk is searched for newlines, so a 16 MiB
JSON line costs one copy, not a rescan per chunk. A line longer than the cap stops the framer
(``overflowed``) instead of growing memory without bound.
"""

from __future__ import annotations

from collections import deque

__all__ = ["LineFramer"]


class LineFramer:
    """Bytes in, complete lines (without ``\\n``) out.

    :param max_line_bytes: the longest line accepted; a longer one sets :attr:`overflowed`
        and closes the framer (lines completed before it stay available).
    """

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.queued = 0
        """Bytes in complete lines not popped yet."""
        self.closed = False
        """No more input: EOF was seen or a line overflowed."""
        self.overflowed = False
        self._lines: deque[bytes] = deque()
        self._partial = bytearray()

    def feed(self, data: bytes) -> None:
        """Add a chunk of output (ignored once closed)."""
        if self.closed:
            return
        start = 0
        while (nl := data.find(b"\n", start)) >= 0:
            if self._partial:
                self._partial += data[start:nl]
                line = bytes(self._partial)
                self._partial.clear()
            else:
                line = data[start:nl]
            start = nl + 1
            if len(line) > self.max_line_bytes:
                self._overflow()
                return
            self._push(line)
        if start < len(data):
            self._partial += data[start:]
            if len(self._partial) > self.max_line_bytes:
                self._overflow()

    def finish(self) -> None:
        """End of input: a last line without a newline still counts."""
        if not self.closed and self._partial:
            self._push(bytes(self._partial))
        self._partial = bytearray()
        self.closed = True

    def pop(self) -> bytes | None:
        """The next complete line, or ``None`` when there is none right now."""
        if not self._lines:
            return None
        line = self._lines.popleft()
        self.queued -= len(line)
        return line

    def _push(self, line: bytes) -> None:
        self._lines.append(line)
        self.queued += len(line)

    def _overflow(self) -> None:
        self.overflowed = True
        self.closed = True
        self._partial = bytearray()
