"""The outcome of one run: :class:`Result` and its :class:`Usage`."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Result", "Usage"]


class Usage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """Token counts for one turn (never cumulative across a resumed conversation).

    ``input_tokens`` counts every prompt token, cached or not; ``cached_tokens`` is the part of
    it read from the provider's cache. ``total_tokens`` = input + output.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=max(0, self.input_tokens - other.input_tokens),
            output_tokens=max(0, self.output_tokens - other.output_tokens),
            cached_tokens=max(0, self.cached_tokens - other.cached_tokens),
            cache_write_tokens=max(0, self.cache_write_tokens - other.cache_write_tokens),
            reasoning_tokens=max(0, self.reasoning_tokens - other.reasoning_tokens),
        )

    def to_dict(self) -> dict[str, int]:
        """The documented JSON form, with ``total_tokens``."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
        }


class Result(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a user wants to know after a run.

    ``session_id`` is the *backend's* conversation id (Claude session id, Codex thread id,
    Gemini session id). ``exit_code`` is the CLI's own exit code (0 on success); ``error`` is the
    CLI's own message when it failed. ``backend_state`` is opaque data the backend wants back
    on the next turn of the same conversation (see ``RunRequest.resume_state``).
    """

    backend: str
    content: str = ""
    session_id: str | None = None
    clinvk_session_id: str | None = None
    """clinvoker's own session id (``None`` for ephemeral runs)."""
    model: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    exit_code: int = 0
    duration_s: float = 0.0
    error: str | None = None
    error_code: str | None = None
    stop_reason: str | None = None
    num_turns: int | None = None
    permission_denials: tuple[str, ...] = ()
    backend_state: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.error is None
