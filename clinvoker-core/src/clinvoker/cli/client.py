"""The seam between the commands and where the work happens.

Commands never call the library directly; they call a :class:`Client`. :class:`LocalClient`
runs everything in this process through the library (``clinvoker.api``, ``clinvoker.orchestrate``,
the session store); :class:`~clinvoker.cli.remote.RemoteClient` (``--server URL``) implements the
same methods over a clinvoker server's HTTP API. A started prompt is a :class:`Run` either way.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from clinvoker.api import RunHandle
    from clinvoker.config import Config
    from clinvoker.events import Event
    from clinvoker.orchestrate import (
        ChainReport,
        ChainSpec,
        CompareReport,
        ParallelReport,
        ParallelSpec,
    )
    from clinvoker.result import Result
    from clinvoker.sessions import Session, SessionStore

__all__ = ["Client", "DryRun", "LocalClient", "PromptRequest", "Run"]


@dataclasses.dataclass(frozen=True)
class PromptRequest:
    """One prompt as the command line asked for it (flags not given are ``None``)."""

    prompt: str
    backend: str | None = None
    model: str | None = None
    workdir: str | None = None
    resume: str | None = None
    """clinvk session id (or unique prefix) to continue."""
    ephemeral: bool = False
    approval_mode: str | None = None
    sandbox_mode: str | None = None
    allowed_tools: tuple[str, ...] | None = None
    disallowed_tools: tuple[str, ...] | None = None
    max_turns: int | None = None
    system_prompt: str | None = None
    system_prompt_mode: str | None = None
    timeout: float | None = None
    add_dirs: tuple[str, ...] = ()
    continue_mode: str | None = None
    """Remote only: ``last`` (``-c``) or ``auto`` (auto-resume) lets the server pick the session."""
    native: bool = False
    """``--native``: the run must also deliver the CLI's own stdout lines."""

    def library_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``clinvoker.api.start`` / ``prepare`` (unset ones left out)."""
        kwargs: dict[str, Any] = {
            "backend": self.backend,
            "model": self.model,
            "workdir": self.workdir,
            "resume": self.resume,
            "ephemeral": self.ephemeral,
            "approval_mode": self.approval_mode,
            "sandbox_mode": self.sandbox_mode,
            "allowed_tools": self.allowed_tools,
            "disallowed_tools": self.disallowed_tools,
            "max_turns": self.max_turns,
            "system_prompt": self.system_prompt,
            "system_prompt_mode": self.system_prompt_mode,
            "timeout": self.timeout,
        }
        if self.add_dirs:
            kwargs["add_dirs"] = self.add_dirs
        return kwargs


@dataclasses.dataclass(frozen=True)
class DryRun:
    """What ``--dry-run`` shows: the command that would run, where, and which session it continues."""

    backend: str
    argv: list[str]
    shell: str
    cwd: str
    env: list[str]
    """Names of the variables added for the CLI (never their values)."""
    continue_session: str | None = None
    continue_backend: str | None = None
    stdin_bytes: int | None = None
    """Size of what is written to the CLI's standard input (the prompt), ``None`` when nothing is."""


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class Run(Protocol):
    """A started prompt: ``RunHandle`` locally, ``RemoteRun`` on a server."""

    on_native_line: Callable[[bytes], None] | None

    @property
    def backend(self) -> _Named: ...

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def result(self) -> Result: ...


class Client(Protocol):
    """What ``clinvk`` commands need from clinvoker."""

    remote: bool
    """Whether the work happens on a server (``--server``)."""

    def find_continuation(self, *, backend: str | None, workdir: str) -> Session | None: ...

    def latest_session(
        self, *, backend: str | None, workdir: str | None, resumable: bool = True
    ) -> Session | None: ...

    def dry_run(self, request: PromptRequest) -> DryRun: ...

    def start(self, request: PromptRequest) -> Run: ...

    def describe(self, run: Run, request: PromptRequest) -> list[str]: ...

    def list_sessions(
        self,
        *,
        backend: str | None = None,
        status: str | None = None,
        workdir: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[Session], int]: ...

    def get_session(self, id_or_prefix: str) -> Session: ...

    def delete_session(self, id_or_prefix: str) -> str: ...

    def session_problems(self) -> list[str]: ...

    def prune_sessions(self, *, older_than_days: int | None, keep: int | None) -> int: ...

    def backend_names(self) -> list[str]: ...

    def is_installed(self, backend: str) -> bool: ...

    async def run_parallel(self, spec: ParallelSpec, **options: Any) -> ParallelReport: ...

    async def run_chain(self, spec: ChainSpec, **options: Any) -> ChainReport: ...

    async def run_compare(
        self, prompt: str, backends: list[str], **options: Any
    ) -> CompareReport: ...


class LocalClient:
    """Runs everything in this process through the library."""

    remote = False

    def __init__(self, config: Config) -> None:
        self.config = config
        self._store: SessionStore | None = None

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            from clinvoker.sessions import open_store

            self._store = open_store(self.config)
        return self._store

    # -- runs ----------------------------------------------------------------------------------

    def default_backend(self, requested: str | None) -> str:
        """The backend a prompt runs on: ``-b``, else config ``default_backend``."""
        return requested or self.config.default_backend

    def find_continuation(self, *, backend: str | None, workdir: str) -> Session | None:
        """The session auto-resume would continue: the newest resumable one of ``backend`` in ``workdir``."""
        return self.latest_session(backend=self.default_backend(backend), workdir=workdir)

    def latest_session(
        self, *, backend: str | None, workdir: str | None, resumable: bool = True
    ) -> Session | None:
        """The newest (resumable) session matching the filters, or ``None``."""
        if resumable:
            return self.store.latest_resumable(backend=backend, workdir=workdir)
        sessions, _ = self.store.list(backend=backend, workdir=workdir, limit=1)
        return sessions[0] if sessions else None

    def prepare(self, request: PromptRequest) -> RunHandle:
        """Resolve everything for ``request`` without spawning (``--dry-run``)."""
        from clinvoker import api

        return api.prepare(request.prompt, config=self.config, **request.library_kwargs())

    def dry_run(self, request: PromptRequest) -> DryRun:
        """What ``request`` would run (``--dry-run``)."""
        handle = self.prepare(request)
        command = handle.command
        return DryRun(
            backend=handle.backend.name,
            argv=list(command.argv),
            shell=command.shell_line(),
            cwd=command.cwd or absolute_workdir(None),
            env=sorted(command.env),
            stdin_bytes=None if command.stdin is None else len(command.stdin),
        )

    def start(self, request: PromptRequest) -> RunHandle:
        """A handle for the run; the CLI starts when the handle is iterated."""
        from clinvoker import api

        return api.start(request.prompt, config=self.config, **request.library_kwargs())

    def describe(self, run: Run, request: PromptRequest) -> list[str]:
        """The ``-v`` lines about a started run: its command line and directory."""
        command = getattr(run, "command", None)
        if command is None:
            return []
        cwd = command.cwd or absolute_workdir(request.workdir)
        return [f"running: {command.shell_line()}", f"cwd: {cwd}"]

    # -- sessions ------------------------------------------------------------------------------

    def list_sessions(
        self,
        *,
        backend: str | None = None,
        status: str | None = None,
        workdir: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[Session], int]:
        return self.store.list(
            backend=backend,
            status=status,
            workdir=workdir,
            since=since,
            limit=limit,
            offset=offset,
        )

    def get_session(self, id_or_prefix: str) -> Session:
        return self.store.get(id_or_prefix)

    def delete_session(self, id_or_prefix: str) -> str:
        """Delete one session; return its full id."""
        return self.store.delete(id_or_prefix)

    def session_problems(self) -> list[str]:
        """Session files the last scan skipped, as ``file: reason`` lines."""
        return [f"{p.file}: {p.reason}" for p in getattr(self.store, "problems", [])]

    def prune_sessions(self, *, older_than_days: int | None, keep: int | None) -> int:
        return self.store.prune(older_than_days=older_than_days, keep=keep)

    # -- backends ------------------------------------------------------------------------------

    def backend_names(self) -> list[str]:
        """Every registered backend, in name order."""
        from clinvoker.plugins import get_host

        return list(get_host().backends)

    def is_installed(self, backend: str) -> bool:
        """Whether ``backend`` is known and its CLI can be found.

        :raises UnknownBackend: no backend of that name (the message lists the installed ones).
        """
        from clinvoker.availability import find_executable
        from clinvoker.plugins import get_host

        return find_executable(get_host().backend(backend), self.config) is not None

    # -- many runs -----------------------------------------------------------------------------

    async def run_parallel(self, spec: ParallelSpec, **options: Any) -> ParallelReport:
        from clinvoker.orchestrate import run_parallel

        return await run_parallel(spec, config=self.config, **options)

    async def run_chain(self, spec: ChainSpec, **options: Any) -> ChainReport:
        from clinvoker.orchestrate import run_chain

        return await run_chain(spec, config=self.config, **options)

    async def run_compare(self, prompt: str, backends: list[str], **options: Any) -> CompareReport:
        from clinvoker.orchestrate import run_compare

        return await run_compare(prompt, backends, config=self.config, **options)


def absolute_workdir(workdir: str | None) -> str:
    """The working directory a run uses, absolute with symlinks resolved, as sessions store it."""
    return str(Path(workdir or os.getcwd()).expanduser().resolve())
