"""Renderers for one run: ``text``, ``json``, ``stream-json`` and ``stream-json --native``.

Every renderer is fed the run's events in order (``event``), optionally the backend CLI's raw
stdout lines (``native_line``), and finally the :class:`~clinvoker.result.Result` (``finish``).

* ``text`` prints the answer as it streams (TextDelta by TextDelta), then a newline; a failure
  goes to stderr as ``Error [backend]: message``; ``output.show_tokens`` / ``show_timing`` add a
  ``Tokens:`` / ``Time:`` line.
* ``json`` prints ONE object when the run ends (:func:`result_object`); its ``warnings`` list
  holds the non-fatal errors (a turn that could not be saved in its session, a backend's retry
  notice), which also go to stderr as ``Warning [backend]: message``, as with ``text``.
* ``stream-json`` prints one normalized event per line in a versioned envelope:
  ``{"v":1,"type":"text_delta","seq":3,"text":"Hi"}``; the last line is
  ``{"v":1,"type":"done","seq":N,"result":{...}}`` with the same object as ``json``.
* ``--native`` prints the backend CLI's own stdout lines unchanged; warnings go to stderr.

The remote client (``clinvk --server``) feeds the same renderers with the events the server
streams, non-fatal errors included, so local and remote output match.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any, Protocol

import msgspec

from clinvoker.events import Done, Error, Event, TextDelta
from clinvoker.result import Result

__all__ = [
    "STREAM_VERSION",
    "JsonRenderer",
    "NativeRenderer",
    "Renderer",
    "StreamJsonRenderer",
    "TextRenderer",
    "make_renderer",
    "result_object",
]

STREAM_VERSION = 1
"""Version of the ``stream-json`` envelope (the ``v`` field of every line)."""

_encoder = msgspec.json.Encoder()


def result_object(result: Result, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The documented JSON object of one run (``-o json``; ``result`` of the ``done`` event).

    Field names follow the Go tool where it had them (``backend, content, session_id, model,
    duration_seconds, exit_code, error, usage``). Every key is always present (``null`` when
    unknown). ``session_id`` is the backend's own id; ``clinvk_session_id`` is clinvoker's.
    ``warnings`` are the messages of the run's non-fatal errors, in order (``[]`` when none).
    """
    return {
        "backend": result.backend,
        "content": result.content,
        "model": result.model,
        "session_id": result.session_id,
        "clinvk_session_id": result.clinvk_session_id,
        "usage": result.usage.to_dict() if result.usage is not None else None,
        "cost_usd": result.cost_usd,
        "duration_seconds": round(result.duration_s, 3),
        "exit_code": result.exit_code,
        "error": result.error,
        "error_code": result.error_code,
        "stop_reason": result.stop_reason,
        "num_turns": result.num_turns,
        "permission_denials": list(result.permission_denials),
        "warnings": list(warnings),
    }


def dumps(obj: Any) -> str:
    """Pretty JSON (2-space indent, UTF-8 kept) as every ``--json`` output prints it."""
    return json.dumps(obj, indent=2, ensure_ascii=False)


class Renderer(Protocol):
    """What the run loop feeds."""

    def event(self, event: Event) -> None: ...

    def native_line(self, line: bytes) -> None: ...

    def finish(self, result: Result) -> None: ...


class _Base:
    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = out
        self.err = err

    def event(self, event: Event) -> None:
        """Ignore events by default."""

    def native_line(self, line: bytes) -> None:
        """Ignore raw lines by default."""

    def _error_line(self, result: Result) -> None:
        if result.error:
            self.err.write(f"Error [{result.backend}]: {result.error}\n")
            self.err.flush()


class _Warns(_Base):
    """Keeps the messages of non-fatal errors and shows each on stderr as it arrives."""

    def __init__(self, out: IO[str], err: IO[str], *, backend: str = "") -> None:
        super().__init__(out, err)
        self.backend = backend
        self.warnings: list[str] = []

    def event(self, event: Event) -> None:
        if isinstance(event, Error) and not event.fatal:
            self.warnings.append(event.message)
            where = f" [{self.backend}]" if self.backend else ""
            self.err.write(f"Warning{where}: {event.message}\n")
            self.err.flush()


class TextRenderer(_Base):
    """The answer as plain text, streamed."""

    def __init__(
        self,
        out: IO[str],
        err: IO[str],
        *,
        backend: str,
        show_tokens: bool = False,
        show_timing: bool = False,
    ) -> None:
        super().__init__(out, err)
        self.backend = backend
        self.show_tokens = show_tokens
        self.show_timing = show_timing
        self._last = ""

    def event(self, event: Event) -> None:
        if isinstance(event, TextDelta) and event.text:
            self.out.write(event.text)
            self.out.flush()
            self._last = event.text
        elif isinstance(event, Error) and not event.fatal:
            self.err.write(f"Warning [{self.backend}]: {event.message}\n")
            self.err.flush()

    def finish(self, result: Result) -> None:
        if not self._last and result.content:
            self.out.write(result.content)
            self._last = result.content
        if self._last and not self._last.endswith("\n"):
            self.out.write("\n")
        if self.show_tokens and result.usage is not None:
            u = result.usage
            self.out.write(
                f"\nTokens: {u.total_tokens} (input: {u.input_tokens}, output: {u.output_tokens})\n"
            )
        if self.show_timing:
            self.out.write(f"Time: {result.duration_s:.2f}s\n")
        self.out.flush()
        self._error_line(result)


class JsonRenderer(_Warns):
    """One JSON object at the end; warnings in it, and on stderr as they come."""

    def finish(self, result: Result) -> None:
        self.out.write(dumps(result_object(result, self.warnings)) + "\n")
        self.out.flush()


class StreamJsonRenderer(_Base):
    """One normalized event per line, in the versioned envelope (warnings are ``error`` lines
    with ``"fatal": false``, and listed again in the ``done`` line's result)."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        super().__init__(out, err)
        self.warnings: list[str] = []

    def event(self, event: Event) -> None:
        if isinstance(event, Error) and not event.fatal:
            self.warnings.append(event.message)
        body: dict[str, Any] = msgspec.to_builtins(event)
        line: dict[str, Any] = {"v": STREAM_VERSION, "type": body.pop("type"), "seq": event.seq}
        body.pop("seq", None)
        if isinstance(event, Done):
            body["result"] = result_object(event.result, self.warnings)
        line.update(body)
        self.out.write(_encoder.encode(line).decode() + "\n")
        self.out.flush()

    def finish(self, result: Result) -> None:
        """The ``done`` line was already printed by :meth:`event`."""


class NativeRenderer(_Warns):
    """The backend CLI's own stdout lines, unchanged; clinvoker's warnings on stderr."""

    def native_line(self, line: bytes) -> None:
        self.out.write(line.decode("utf-8", errors="replace") + "\n")
        self.out.flush()

    def finish(self, result: Result) -> None:
        self._error_line(result)


def make_renderer(
    output_format: str,
    *,
    out: IO[str],
    err: IO[str],
    backend: str,
    native: bool = False,
    show_tokens: bool = False,
    show_timing: bool = False,
) -> Renderer:
    """The renderer for ``-o FORMAT`` (``text``, ``json`` or ``stream-json``)."""
    if output_format == "text":
        return TextRenderer(
            out, err, backend=backend, show_tokens=show_tokens, show_timing=show_timing
        )
    if output_format == "stream-json":
        return NativeRenderer(out, err, backend=backend) if native else StreamJsonRenderer(out, err)
    return JsonRenderer(out, err, backend=backend)
