"""The server's answers that ``clinvk --server`` reads, as msgspec structs (decoders built once).

Backends, sessions and dry runs are the server's own shapes (:mod:`clinvoker.native_wire`, one
definition for both sides); the orchestration progress lines are declared here. Fields a struct
does not know are ignored, so a newer server keeps working with an older clinvk.
"""

from __future__ import annotations

from typing import Any

import msgspec

from clinvoker.native_wire import (
    BackendInfo,
    BackendList,
    DeleteResponse,
    DryRunCommand,
    SessionInfo,
    SessionList,
    TokenUsage,
)

__all__ = [
    "BackendInfo",
    "BackendList",
    "DeleteResponse",
    "DryRunCommand",
    "ProgressDone",
    "ProgressError",
    "ProgressReport",
    "ProgressStart",
    "SessionInfo",
    "SessionList",
    "TokenUsage",
    "progress_decoder",
]


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
