""":class:`RemoteClient`: the :class:`~clinvoker.cli.client.Client` of ``clinvk --server URL``.

Runs, sessions and orchestrations happen on the server, through its native API (``/api/v1``):

* a prompt or resumed turn is ``POST /api/v1/prompt`` with ``wire_format: clinvk`` (a resumed
  one with ``session_id``; ``-c`` and auto-resume with ``continue_session``, so the server picks
  the newest resumable session of the run's workdir that the key may see);
* ``sessions list/show/delete`` are the sessions routes; ``sessions clean`` deletes, one by one,
  the sessions the list shows as too old or beyond ``--keep`` (the API has no bulk delete);
* ``parallel``, ``chain`` and ``compare`` stream their progress (:mod:`.orchestrate`).

What the server decides: the default backend, each backend's model and flags, the default
workdir (its own, or the key's first root), timeouts. What stays local: output format and
display settings, ``session.auto_resume``, the task files.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from clinvoker.cli.client import DryRun, PromptRequest, Run
from clinvoker.cli.remote import wire
from clinvoker.cli.remote.http import Connection, Endpoint
from clinvoker.cli.remote.run import RemoteRun
from clinvoker.errors import UnknownBackend, UsageError

if TYPE_CHECKING:
    from clinvoker.config import Config
    from clinvoker.orchestrate import (
        ChainReport,
        ChainSpec,
        CompareReport,
        ParallelReport,
        ParallelSpec,
    )
    from clinvoker.sessions import Session

__all__ = ["RemoteClient"]

_PAGE = 200


class RemoteClient:
    """Everything over HTTP against one clinvoker server."""

    remote = True

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        config: Config,
        note: Callable[[str], None],
    ) -> None:
        self.endpoint = Endpoint(url)
        self.url = self.endpoint.url
        self.http = Connection(self.endpoint, api_key)
        self.config = config
        self._note = note
        self._backends: list[wire.BackendInfo] | None = None

    def close(self) -> None:
        """Close the connection to the server."""
        self.http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------------

    def _turn(self, request: PromptRequest) -> dict[str, Any]:
        """The ``POST /api/v1/prompt`` body for ``request`` (unset options left out)."""
        if request.add_dirs:
            raise UsageError(
                "--add-dir is not available with --server (the server's API has no such option)",
                hint="Run without --server, or let the agent work inside -w DIR",
            )
        body: dict[str, Any] = {"prompt": request.prompt, "wire_format": "clinvk"}
        optional = {
            "backend": request.backend,
            "model": request.model,
            "workdir": request.workdir,
            "session_id": request.resume,
            "continue_session": request.continue_mode,
            "approval_mode": request.approval_mode,
            "sandbox_mode": request.sandbox_mode,
            "allowed_tools": list(request.allowed_tools or ()),
            "disallowed_tools": list(request.disallowed_tools or ()),
            "max_turns": request.max_turns,
            "system_prompt": request.system_prompt,
            "system_prompt_mode": request.system_prompt_mode,
            "timeout": request.timeout,
        }
        body.update({k: v for k, v in optional.items() if v})
        if request.resume:
            body.pop("backend", None)  # the session's own backend
        if request.ephemeral:
            body["ephemeral"] = True
        if request.native:
            body["native"] = True
        return body

    def dry_run(self, request: PromptRequest) -> DryRun:
        """Ask the server what it would run (nothing runs, no session is made)."""
        body = {**self._turn(request), "dry_run": True}
        body.pop("native", None)
        answer = self.http.call("POST", "/api/v1/prompt", body=body, type=wire.DryRunCommand)
        continued = answer.continue_session
        if continued is None and request.continue_mode == "last":
            self._no_continuation(request)
        return DryRun(
            backend=answer.backend,
            argv=answer.command,
            shell=answer.shell,
            cwd=answer.cwd,
            env=answer.env,
            continue_session=continued,
            continue_backend=answer.backend if continued else None,
        )

    def start(self, request: PromptRequest) -> RemoteRun:
        """Start the run on the server; its events arrive while the returned run is iterated."""
        stream = self.http.stream("POST", "/api/v1/prompt", body=self._turn(request))
        backend = stream.header("x-clinvk-backend") or request.backend or "?"
        session_id = stream.header("x-clinvk-session")
        continued = stream.header("x-clinvk-continued")
        if continued and session_id:
            self._note(
                f"continuing session {session_id[:8]} ({backend}) "
                f"from {_ago(continued)}; use --new to start fresh"
            )
        elif request.continue_mode == "last":
            self._no_continuation(request)
        return RemoteRun(stream, backend=backend, session_id=session_id)

    def _no_continuation(self, request: PromptRequest) -> None:
        where = request.workdir or "the server's default directory"
        self._note(f"no resumable session in {where}; starting a new one")

    def describe(self, run: Run, request: PromptRequest) -> list[str]:
        """The ``-v`` line about a started run."""
        session = getattr(run, "session_id", None)
        where = request.workdir or "the server's default directory"
        return [
            f"running on {self.url}: {run.backend.name} in {where}, "
            + (f"clinvk session {session}" if session else "no session (ephemeral)")
        ]

    def find_continuation(self, *, backend: str | None, workdir: str) -> Session | None:
        """The newest resumable session of ``backend`` in ``workdir`` on the server."""
        return self.latest_session(backend=backend, workdir=workdir)

    def latest_session(
        self, *, backend: str | None, workdir: str | None, resumable: bool = True
    ) -> Session | None:
        """The newest (resumable) session the key may see, or ``None``."""
        offset = 0
        while True:
            page = self._sessions(backend=backend, workdir=workdir, limit=_PAGE, offset=offset)
            for info in page.sessions:
                if info.resumable or not resumable:
                    return _session(info)
            offset += len(page.sessions)
            if not page.sessions or offset >= page.total:
                return None

    # -- sessions ------------------------------------------------------------------------------

    def _sessions(self, **query: Any) -> wire.SessionList:
        return self.http.call("GET", "/api/v1/sessions", query=query, type=wire.SessionList)

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
        """One page of the server's sessions (the key's own, for a named key), newest first."""
        page = self._sessions(
            backend=backend,
            status=status,
            workdir=workdir,
            since=since.isoformat() if since is not None else None,
            limit=limit,
            offset=offset or None,
        )
        return [_session(s) for s in page.sessions], page.total

    def get_session(self, id_or_prefix: str) -> Session:
        """One session by id or unique prefix (404 → ``SessionNotFound``, 409 → ambiguous)."""
        path = f"/api/v1/sessions/{_segment(id_or_prefix)}"
        return _session(self.http.call("GET", path, type=wire.SessionInfo))

    def delete_session(self, id_or_prefix: str) -> str:
        """Delete one session; return its full id."""
        path = f"/api/v1/sessions/{_segment(id_or_prefix)}"
        return self.http.call("DELETE", path, type=wire.DeleteResponse).id

    def session_problems(self) -> list[str]:
        """Unreadable session files are the server's business (its log says)."""
        return []

    def prune_sessions(self, *, older_than_days: int | None, keep: int | None) -> int:
        """Delete the sessions unused for ``older_than_days`` and/or beyond the newest ``keep``."""
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days) if older_than_days else None
        doomed: list[str] = []
        offset = 0
        while True:
            page = self._sessions(limit=_PAGE, offset=offset)
            for position, info in enumerate(page.sessions, offset):
                too_old = cutoff is not None and info.last_used < cutoff
                if too_old or (keep is not None and position >= keep):
                    doomed.append(info.id)
            offset += len(page.sessions)
            if not page.sessions or offset >= page.total:
                break
        for session_id in doomed:
            self.delete_session(session_id)
        return len(doomed)

    # -- backends ------------------------------------------------------------------------------

    def backends(self) -> list[wire.BackendInfo]:
        """The server's backends (asked once per invocation)."""
        if self._backends is None:
            self._backends = self.http.call(
                "GET", "/api/v1/backends", type=wire.BackendList
            ).backends
        return self._backends

    def backend_names(self) -> list[str]:
        """Every backend the server has."""
        return [b.name for b in self.backends()]

    def is_installed(self, backend: str) -> bool:
        """Whether the server has ``backend`` and its CLI.

        :raises UnknownBackend: the server has no backend of that name.
        """
        for info in self.backends():
            if info.name == backend:
                return info.available
        names = ", ".join(self.backend_names()) or "none"
        raise UnknownBackend(
            f"unknown backend {backend!r} on the server at {self.url}",
            hint=f"It has: {names}",
        )

    # -- many runs -----------------------------------------------------------------------------

    async def run_parallel(self, spec: ParallelSpec, **options: Any) -> ParallelReport:
        """``clinvk parallel`` on the server."""
        from clinvoker.cli.remote.orchestrate import parallel_body, run_remote
        from clinvoker.orchestrate import ParallelReport

        settings = self.config.parallel
        flag = options.get("fail_fast")
        body = parallel_body(
            spec,
            max_parallel=options.get("max_parallel") or spec.max_parallel or settings.max_workers,
            fail_fast=flag if flag is not None else (spec.fail_fast or settings.fail_fast),
            dry_run=bool(options.get("dry_run")),
            workdir=options.get("workdir"),
        )
        return await run_remote(
            self.http, "/api/v1/parallel", body, ParallelReport, **_hooks(options)
        )

    async def run_chain(self, spec: ChainSpec, **options: Any) -> ChainReport:
        """``clinvk chain`` on the server."""
        from clinvoker.cli.remote.orchestrate import chain_body, run_remote
        from clinvoker.orchestrate import ChainReport

        body = chain_body(
            spec,
            model=options.get("model"),
            workdir=options.get("workdir"),
            dry_run=bool(options.get("dry_run")),
        )
        return await run_remote(self.http, "/api/v1/chain", body, ChainReport, **_hooks(options))

    async def run_compare(self, prompt: str, backends: list[str], **options: Any) -> CompareReport:
        """``clinvk compare`` on the server."""
        from clinvoker.cli.remote.orchestrate import compare_body, run_remote
        from clinvoker.orchestrate import CompareReport

        body = compare_body(
            prompt,
            backends,
            model=options.get("model"),
            workdir=options.get("workdir"),
            sequential=bool(options.get("sequential")),
            dry_run=bool(options.get("dry_run")),
        )
        return await run_remote(
            self.http, "/api/v1/compare", body, CompareReport, **_hooks(options)
        )


def _hooks(options: dict[str, Any]) -> dict[str, Any]:
    return {"on_start": options.get("on_start"), "on_done": options.get("on_done")}


def _segment(value: str) -> str:
    if not value.strip():
        raise UsageError("the session id is empty")
    return quote(value, safe="")


def _ago(stamp: str) -> str:
    from clinvoker.cli.tables import time_ago

    try:
        return time_ago(datetime.fromisoformat(stamp))
    except ValueError:
        return stamp


def _session(info: wire.SessionInfo) -> Session:
    """The server's view of a session as a :class:`~clinvoker.sessions.Session`.

    The server does not share backend conversation ids, metadata or owners; those stay empty.
    """
    from clinvoker.result import Usage
    from clinvoker.sessions import Session

    usage = info.token_usage.usage() if info.token_usage is not None else Usage()
    return Session(
        id=info.id,
        backend=info.backend,
        created_at=info.created_at,
        last_used=info.last_used,
        working_dir=info.working_dir or "",
        model=info.model,
        initial_prompt=info.initial_prompt,
        status=info.status or "active",
        turn_count=info.turn_count,
        token_usage=usage,
        tags=list(info.tags),
        title=info.title,
        cost_usd=info.cost_usd,
    )
