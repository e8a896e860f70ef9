"""Native REST wire formats (``/api/v1``): the Go tool's request and response fields.

Requests are strict — an unknown field is a 422 naming it — because they are this project's own
API. Optional response fields are omitted when empty, as the Go tool's ``omitempty`` did. The
answers ``clinvk --server`` reads (backends, sessions, dry runs, token usage) are defined once in
:mod:`clinvoker.native_wire` and re-exported here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

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
    "ChainRequest",
    "ChainStep",
    "CompareRequest",
    "DeleteResponse",
    "DryRunCommand",
    "ParallelRequest",
    "PromptRequest",
    "PromptResponse",
    "ResumeRequest",
    "SessionInfo",
    "SessionList",
    "StreamEvent",
    "TaskRequest",
    "TokenUsage",
]

ApprovalMode = Literal["default", "auto", "none", "always", ""]
SandboxMode = Literal["default", "read-only", "workspace", "full", ""]
OutputFormat = Literal["default", "text", "json", "stream-json", ""]
WireFormat = Literal["", "go", "clinvk"]
"""``go`` (default): the Go tool's fields. ``clinvk``: clinvoker's own objects, exactly as the
``clinvk`` command line prints them (what ``clinvk --server`` asks for): a prompt answers with
its normalized events as NDJSON (``{"type":"text_delta","seq":3,"text":"Hi"}``..., the last a
``done`` carrying the full result), a dry run with the command, an orchestration with NDJSON
progress (``start``/``done`` per run) ending in the full ``report``."""


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Request structs: unknown fields are refused."""


class _Out(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Response structs: empty optional fields are left out."""


class _RunFields(_Strict, kw_only=True):
    """Options every run request shares."""

    model: str = ""
    workdir: str = ""
    approval_mode: ApprovalMode = ""
    sandbox_mode: SandboxMode = ""
    max_tokens: int = 0
    max_turns: int = 0
    system_prompt: str = ""
    verbose: bool = False
    extra: list[str] = []
    allowed_tools: list[str] = []


class _TurnFields(_RunFields, kw_only=True):
    """Options of one prompt or resumed turn (not of orchestration items)."""

    disallowed_tools: list[str] = []
    system_prompt_mode: Literal["", "replace", "append"] = ""
    timeout: Annotated[float, msgspec.Meta(ge=0)] = 0
    """Seconds before the run is stopped (0: the server's ``request_timeout_secs``, never more)."""
    wire_format: WireFormat = ""
    native: bool = False
    """With ``wire_format: clinvk``: also send the CLI's own stdout lines (``{"type":"native"}``)."""


class PromptRequest(_TurnFields, kw_only=True):
    """``POST /api/v1/prompt``. ``session_id`` resumes a clinvoker session (id or prefix).

    ``continue_session`` continues the newest resumable session in the run's workdir (the
    server's default when empty) that the key can see: ``last`` of ``backend`` (any backend
    when empty), ``auto`` of the run's backend; with none, a new session starts. The
    ``x-clinvk-continued`` response header then carries the continued session's last use.
    """

    prompt: str
    backend: str = ""
    output_format: OutputFormat = ""
    dry_run: bool = False
    ephemeral: bool = False
    metadata: dict[str, str] = {}
    tags: list[str] = []
    session_id: str = ""
    continue_session: Literal["", "last", "auto"] = ""


class ResumeRequest(_TurnFields, kw_only=True):
    """``POST /api/v1/sessions/{id}/resume``: the next turn of a stored session."""

    prompt: str
    output_format: OutputFormat = ""
    metadata: dict[str, str] = {}


class PromptResponse(_Out, kw_only=True):
    """A finished run (backend failures are in ``exit_code``/``error``, HTTP 200)."""

    backend: str
    exit_code: int
    duration_ms: int
    session_id: str | None = None
    output: str | None = None
    error: str | None = None
    error_code: str | None = None
    model: str | None = None
    token_usage: TokenUsage | None = None
    cost_usd: float | None = None


class StreamEvent(_Out, kw_only=True):
    """One NDJSON / SSE event of a streamed native run (the Go tool's envelope)."""

    type: str
    backend: str
    timestamp: str
    session_id: str | None = None
    content: dict[str, Any] | None = None
    sequence: int | None = None


# -- parallel / chain / compare -----------------------------------------------------------------


class TaskRequest(_RunFields, kw_only=True):
    """One task of ``POST /api/v1/parallel``."""

    backend: str = ""
    prompt: str
    output_format: OutputFormat = ""
    id: str = ""
    name: str = ""
    tags: list[str] = []
    meta: dict[str, str] = {}


class ParallelRequest(_Strict, kw_only=True):
    """``POST /api/v1/parallel``."""

    tasks: list[TaskRequest]
    max_parallel: int = 0
    fail_fast: bool = False
    dry_run: bool = False
    wire_format: WireFormat = ""


class ChainStep(_Strict, kw_only=True):
    """One step of ``POST /api/v1/chain``; ``{{previous}}`` is the previous answer."""

    backend: str = ""
    prompt: str
    model: str = ""
    workdir: str = ""
    approval_mode: ApprovalMode = ""
    sandbox_mode: SandboxMode = ""
    max_tokens: int = 0
    max_turns: int = 0
    system_prompt: str = ""
    verbose: bool = False
    extra: list[str] = []
    name: str = ""


class ChainRequest(_Strict, kw_only=True):
    """``POST /api/v1/chain``."""

    steps: list[ChainStep]
    stop_on_failure: bool = False
    pass_working_dir: bool = False
    pass_session_id: bool = False
    persist_sessions: bool = False
    dry_run: bool = False
    wire_format: WireFormat = ""


class CompareRequest(_Strict, kw_only=True):
    """``POST /api/v1/compare``."""

    backends: list[str]
    prompt: str
    model: str = ""
    workdir: str = ""
    sequential: bool = False
    dry_run: bool = False
    wire_format: WireFormat = ""
