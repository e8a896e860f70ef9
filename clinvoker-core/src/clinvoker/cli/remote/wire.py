"""The server's answers that ``clinvk --server`` reads, as msgspec structs (decoders built once).

Only the fields clinvk uses are declared; anything else the server adds is ignored, so a newer
server keeps working with an older clinvk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from clinvoker.result import Usage

__all__ = [
    "BackendInfo",
    "BackendList",
    "DeleteAnswer",
    "DryRunAnswer",
    "ProgressDone",
    "ProgressError",
    "ProgressReport",
    "ProgressStart",
    "SessionInfo",
    "SessionList",
    "progress_decoder",
]


class BackendInfo(msgspec.Struct, kw_only=True):
    """One backend of ``GET /api/v1/backends``."""

    name: str
    available: bool
    executable: str | None = None
    default_model: str | None = None
    models: list[str] = []


class BackendList(msgspec.Struct, kw_only=True):
    """``GET /api/v1/backends``."""

    backends: list[BackendInfo]


class TokenUsage(msgspec.Struct, kw_only=True):
    """A session's accumulated tokens."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def usage(self) -> Usage:
        """As the core's :class:`~clinvoker.result.Usage`."""
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_tokens=self.cached_tokens,
            reasoning_tokens=self.reasoning_tokens,
        )


class SessionInfo(msgspec.Struct, kw_only=True):
    """A session as the server shows it (no backend ids, metadata or owner)."""

    id: str
    backend: str
    created_at: datetime
    last_used: datetime
    working_dir: str | None = None
    model: str | None = None
    initial_prompt: str | None = None
    status: str | None = None
    turn_count: int = 0
    token_usage: TokenUsage | None = None
    tags: list[str] = []
    title: str | None = None
    cost_usd: float = 0.0
    resumable: bool = False


class SessionList(msgspec.Struct, kw_only=True):
    """``GET /api/v1/sessions``."""

    sessions: list[SessionInfo]
    total: int


class DeleteAnswer(msgspec.Struct, kw_only=True):
    """``DELETE /api/v1/sessions/{id}``."""

    id: str


class DryRunAnswer(msgspec.Struct, kw_only=True):
    """A dry-run prompt with ``wire_format: clinvk``."""

    backend: str
    command: list[str]
    shell: str
    cwd: str
    env: list[str] = []
    continue_session: str | None = None


# -- orchestration progress (NDJSON lines) -------------------------------------------------------


class ProgressStart(msgspec.Struct, tag="start", tag_field="type"):
    """A run of the orchestration started."""

    index: int


class ProgressDone(msgspec.Struct, tag="done", tag_field="type"):
    """A run ended; ``outcome`` is the core's ``Outcome`` (decoded by the caller)."""

    outcome: msgspec.Raw


class ProgressReport(msgspec.Struct, tag="report", tag_field="type"):
    """The last line: the whole report (decoded by the caller into its report type)."""

    report: msgspec.Raw


class _ErrorBody(msgspec.Struct):
    code: str = ""
    message: str = ""


class ProgressError(msgspec.Struct, tag="error", tag_field="type"):
    """The orchestration could not run."""

    error: _ErrorBody


progress_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    ProgressStart | ProgressDone | ProgressReport | ProgressError
)
