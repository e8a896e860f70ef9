"""The native API's (``/api/v1``) answers about backends, sessions and dry runs: one definition
that the server encodes (``clinvoker_server.native_wire`` re-exports these) and ``clinvk --server``
decodes (:mod:`clinvoker.cli.remote.wire`).

Optional fields are omitted when empty, as the Go tool's ``omitempty`` did. Decoding ignores
fields it does not know, so an older clinvk keeps working with a newer server that adds some.
The docstrings are the descriptions in the server's OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from clinvoker.result import Usage

__all__ = [
    "BackendInfo",
    "BackendList",
    "DeleteResponse",
    "DryRunCommand",
    "SessionInfo",
    "SessionList",
    "TokenUsage",
]


class _Out(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Answers whose empty optional fields are left out."""


class BackendInfo(_Out, kw_only=True):
    """One backend and whether its CLI is installed."""

    name: str
    available: bool
    display_name: str | None = None
    executable: str | None = None
    default_model: str | None = None
    models: list[str] = []


class BackendList(msgspec.Struct, kw_only=True):
    """``GET /api/v1/backends``."""

    backends: list[BackendInfo]


class TokenUsage(_Out, kw_only=True):
    """Token counts as the Go tool reported them."""

    input_tokens: int
    output_tokens: int
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


class SessionInfo(_Out, kw_only=True):
    """A session as the API shows it (no backend ids, metadata or owner)."""

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
    """The backend reported a conversation id, so the session can be continued."""


class SessionList(msgspec.Struct, kw_only=True):
    """``GET /api/v1/sessions``: one page and the total number of matches."""

    sessions: list[SessionInfo]
    total: int
    limit: int
    offset: int


class DeleteResponse(msgspec.Struct, kw_only=True):
    """``DELETE /api/v1/sessions/{id}``."""

    deleted: bool
    id: str


class DryRunCommand(msgspec.Struct, kw_only=True):
    """A dry run with ``wire_format: clinvk``: what ``clinvk --dry-run -o json`` prints."""

    dry_run: bool = True
    backend: str
    command: list[str]
    shell: str
    cwd: str
    env: list[str]
    """Names (never values) of the variables the CLI would get on top of the server's."""
    continue_session: str | None = None
