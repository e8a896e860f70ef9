"""Conversations that outlive a process: the :class:`Session` record and the store interface.

A session maps clinvoker's own id (32 lowercase hex characters; the Go tool's 16-character ids
are accepted) to the backend's conversation id (Claude session id, Codex thread id, Gemini
session id), with the backend, model, working directory, timestamps, turn count, token usage,
cost and status. The JSON field names are the Go tool's, so its ``~/.clinvk/sessions`` keep
working.

The default store keeps one JSON file per session (:class:`~clinvoker.session_files.FileSessionStore`);
a plugin can supply another one through the ``clinvoker_session_store`` hook, e.g. a store shared
by several server instances. :func:`open_store` picks the plugin's store, else the file store::

    store = open_store(config)
    session = store.create(backend="claude", workdir="/src/app", initial_prompt="fix the tests")
    store.update(session.id, lambda s: s.record_turn(result))
    sessions, total = store.list(backend="claude", limit=20)

With ``owner`` (the server passes the API key's name) a caller sees only its own sessions;
others' sessions behave as if they did not exist.
"""

from __future__ import annotations

import abc
import builtins
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from clinvoker.result import Result, Usage

if TYPE_CHECKING:
    from clinvoker.config_schema import Config
    from clinvoker.plugins import PluginHost

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "Session",
    "SessionStore",
    "SessionSummary",
    "StoreProblem",
    "is_session_id",
    "new_session_id",
    "open_store",
    "session_filter",
]

SCHEMA_VERSION = 1
STATUSES: tuple[str, ...] = ("active", "completed", "error", "paused")
"""Session statuses: ``active`` until the first run ends, then ``completed`` or ``error``."""

_ID_RE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{16}")


def new_session_id() -> str:
    """A fresh session id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def is_session_id(text: str) -> bool:
    """Whether ``text`` is a full session id (32 hex characters, or a legacy 16)."""
    return _ID_RE.fullmatch(text) is not None


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Session(msgspec.Struct, kw_only=True):
    """One conversation. Field names and order follow the Go tool's session files.

    ``backend_session_id`` is the backend's own conversation id (``None`` until the first run
    reported one); a session with one is *resumable*. ``token_usage`` and ``cost_usd``
    accumulate over all turns. ``backend_state`` is opaque data the backend wants back on the next
    turn (``Result.backend_state``). ``owner`` is the API key name that created it (``None``
    for local use).
    """

    id: str
    backend: str
    created_at: datetime
    last_used: datetime
    working_dir: str = ""
    backend_session_id: str | None = None
    model: str | None = None
    initial_prompt: str | None = None
    status: str = "active"
    turn_count: int = 0
    token_usage: Usage = msgspec.field(default_factory=Usage)
    tags: list[str] = []
    title: str | None = None
    parent_id: str | None = None
    error_message: str | None = None
    metadata: dict[str, Any] = {}
    cost_usd: float = 0.0
    backend_state: dict[str, Any] = {}
    owner: str | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def new(
        cls,
        *,
        backend: str,
        workdir: str = "",
        model: str | None = None,
        initial_prompt: str | None = None,
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        owner: str | None = None,
        title: str | None = None,
        parent_id: str | None = None,
        now: datetime | None = None,
    ) -> Session:
        """A fresh ``active`` session with a new id, created and last used ``now`` (default: the
        current time): what :meth:`SessionStore.create` saves. An empty model or prompt is stored
        as ``None``; repeated tags are kept once."""
        now = now or utcnow()
        return cls(
            id=new_session_id(),
            backend=backend,
            created_at=now,
            last_used=now,
            working_dir=workdir,
            model=model or None,
            initial_prompt=initial_prompt or None,
            tags=list(dict.fromkeys(tags)),
            title=title,
            parent_id=parent_id,
            metadata=dict(metadata or {}),
            owner=owner,
        )

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id (what ``clinvk sessions list`` shows)."""
        return self.id[:8]

    @property
    def resumable(self) -> bool:
        """Whether the backend reported a conversation id this session can resume."""
        return bool(self.backend_session_id)

    @property
    def display_name(self) -> str:
        """The title, else the first prompt cut to 50 characters, else the short id."""
        if self.title:
            return self.title
        if self.initial_prompt:
            prompt = " ".join(self.initial_prompt.split())
            return prompt if len(prompt) <= 50 else prompt[:47] + "..."
        return self.short_id

    def record_turn(
        self, result: Result, *, store_token_usage: bool = True, now: datetime | None = None
    ) -> Session:
        """Account for one finished run of this conversation and return ``self``.

        Counts the turn, moves ``last_used`` to now, adds the turn's tokens (unless
        ``store_token_usage`` is false) and cost, takes over the backend's conversation id, model
        and state, and sets ``status`` to ``completed`` or ``error`` (with ``error_message``).
        """
        self.turn_count += 1
        self.last_used = now or utcnow()
        if store_token_usage and result.usage is not None:
            self.token_usage = self.token_usage + result.usage
        if result.cost_usd:
            self.cost_usd += result.cost_usd
        if result.session_id:
            self.backend_session_id = result.session_id
        if result.model:
            self.model = result.model
        if result.backend_state:
            self.backend_state = dict(result.backend_state)
        if result.ok:
            self.status, self.error_message = "completed", None
        else:
            self.status = "error"
            self.error_message = result.error or "backend execution failed"
        return self


class SessionSummary(Protocol):
    """What :func:`session_filter` reads: a :class:`Session`, or a store's own lighter record of
    one (``last_used`` may be a datetime, naive taken as UTC, or seconds since the epoch)."""

    @property
    def backend(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def working_dir(self) -> str: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def last_used(self) -> datetime | float: ...


def _seconds(value: datetime | float) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return value


def session_filter(
    *,
    backend: str | None = None,
    status: str | None = None,
    workdir: str | None = None,
    since: datetime | float | None = None,
    owner: str | None = None,
    model: str | None = None,
    tag: str | None = None,
) -> Callable[[SessionSummary], bool]:
    """The test :meth:`SessionStore.list` applies, for a store to use on its sessions.

    ``None`` leaves a field unfiltered. Working directories match after ``os.path.normpath``
    (an empty one counts as ``.``); ``since`` keeps sessions last used at or after it::

        keep = session_filter(backend="claude", owner="alice")
        found = [s for s in sessions if keep(s)]
    """
    wanted_dir = os.path.normpath(workdir) if workdir else None
    after = _seconds(since) if since is not None else None

    def keep(s: SessionSummary) -> bool:
        return (
            (backend is None or s.backend == backend)
            and (status is None or s.status == status)
            and (wanted_dir is None or os.path.normpath(s.working_dir or ".") == wanted_dir)
            and (after is None or _seconds(s.last_used) >= after)
            and (owner is None or s.owner == owner)
            and (model is None or s.model == model)
            and (tag is None or tag in s.tags)
        )

    return keep


class StoreProblem(msgspec.Struct, frozen=True):
    """A file in the session store that was skipped: its name and why (one line)."""

    file: str
    reason: str


class SessionStore(abc.ABC):
    """Where sessions live. The file store is the default; plugins may provide others.

    Every method that takes ``owner`` hides sessions of other owners (as if they did not exist);
    ``owner=None`` sees everything. Ids may be given as unique hex prefixes where noted.
    Implementations must make :meth:`update` atomic across processes.
    """

    problems: builtins.list[StoreProblem]
    """Files skipped by the last scan (corrupt or foreign JSON), for ``clinvk sessions list``."""

    @abc.abstractmethod
    def create(
        self,
        *,
        backend: str,
        workdir: str = "",
        model: str | None = None,
        initial_prompt: str | None = None,
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        owner: str | None = None,
        title: str | None = None,
        parent_id: str | None = None,
    ) -> Session:
        """Create, save and return a new ``active`` session with a fresh id."""

    @abc.abstractmethod
    def get(self, id_or_prefix: str, owner: str | None = None) -> Session:
        """The session with this id or unique id prefix.

        :raises SessionNotFound: nothing matches (or only other owners' sessions do).
        :raises AmbiguousSession: the prefix matches several sessions (they are listed).
        """

    @abc.abstractmethod
    def update(self, session_id: str, fn: Callable[[Session], Session | None]) -> Session:
        """Read-modify-write under a lock: ``fn`` gets the current session and changes it in
        place (or returns a replacement); the result is saved and returned. Concurrent updates
        from any number of processes never lose each other's changes.

        :raises SessionNotFound: no such session.
        """

    @abc.abstractmethod
    def save(self, session: Session) -> None:
        """Write ``session`` as is (creating or replacing it)."""

    @abc.abstractmethod
    def delete(self, id_or_prefix: str, owner: str | None = None) -> str:
        """Delete one session (and its artifacts) and return its full id."""

    @abc.abstractmethod
    def list(
        self,
        *,
        backend: str | None = None,
        status: str | None = None,
        workdir: str | None = None,
        since: datetime | None = None,
        owner: str | None = None,
        model: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[builtins.list[Session], int]:
        """Matching sessions, most recently used first, and how many match in all.

        ``limit`` ``None`` or 0 returns every match after ``offset``.
        """

    @abc.abstractmethod
    def latest_resumable(
        self, backend: str | None = None, workdir: str | None = None, owner: str | None = None
    ) -> Session | None:
        """The most recently used session that has a backend conversation id, if any."""

    @abc.abstractmethod
    def prune(self, older_than_days: int | None = None, keep: int | None = None) -> int:
        """Delete sessions unused for more than ``older_than_days`` days and/or beyond the
        ``keep`` most recently used; return how many were deleted.

        ``None`` or 0 disables each rule (0 never means "delete everything").
        """

    @abc.abstractmethod
    def count(self, owner: str | None = None) -> int:
        """How many sessions there are."""


def open_store(config: Config | None = None, host: PluginHost | None = None) -> SessionStore:
    """The session store to use: a plugin's (``clinvoker_session_store``), else the file store.

    :param config: the loaded configuration (loaded from the usual places when ``None``).
    :param host: the plugin host (the process-wide one when ``None``).
    :raises SessionError: a store plugin failed.
    """
    from clinvoker.errors import ClinvokerError, SessionError
    from clinvoker.session_files import FileSessionStore

    if host is None:
        from clinvoker.plugins import get_host

        host = get_host()
    if config is None:
        from clinvoker.config import load_config

        config = load_config()
    try:
        store = host.session_store(config)
    except ClinvokerError:
        raise
    except Exception as exc:
        raise SessionError(
            f"the session store plugin failed: {type(exc).__name__}: {exc}",
            hint="Fix or disable it with CLINVK_DISABLE_PLUGINS=<name>.",
        ) from exc
    return store if store is not None else FileSessionStore()
