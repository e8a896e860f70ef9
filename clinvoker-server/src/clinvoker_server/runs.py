"""Backend runs as the server sees them: slots, metrics, and shutdown drain.

Every handler starts a run through :meth:`Runs.start`, which takes a concurrency slot and calls
:func:`clinvoker.api.start` — the server never spawns anything itself (the core opens the run's
trace span, a child of the request span, and passes it to the CLI as ``TRACEPARENT``). The returned :class:`ActiveRun` yields the normalized
events; whoever stops iterating early (a client gone, an error, shutdown) causes the run to be
cancelled, which kills the CLI's whole process group.

On shutdown :meth:`Runs.drain` waits up to the grace period for runs in flight, then cancels the
rest and waits for their process groups to be gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from clinvoker.errors import (
    BackendCrashed,
    BackendError,
    BackendOverloaded,
    Cancelled,
    ClinvokerError,
    RateLimited,
    RunTimeout,
)
from clinvoker.events import Done, Event
from clinvoker.result import Result

from clinvoker_server.audit import redact_command
from clinvoker_server.concurrency import Concurrency, Lease
from clinvoker_server.conversation import check_text
from clinvoker_server.policy import run_config

if TYPE_CHECKING:
    from clinvoker.api import RunHandle
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost
    from clinvoker.sessions import SessionStore

    from clinvoker_server.audit import AuditLog
    from clinvoker_server.auth import Principal
    from clinvoker_server.telemetry import Telemetry

__all__ = ["ActiveRun", "RunSpec", "Runs", "audit_record", "check_spec", "result_error"]

T = TypeVar("T")


class RunSpec(msgspec.Struct, kw_only=True):
    """What a handler wants run (passed on to :func:`clinvoker.api.start`)."""

    prompt: str
    backend: str
    model: str | None = None
    workdir: str | None = None
    resume: str | None = None
    ephemeral: bool = True
    approval_mode: str | None = None
    sandbox_mode: str | None = None
    allowed_tools: tuple[str, ...] | None = None
    disallowed_tools: tuple[str, ...] | None = None
    max_turns: int | None = None
    system_prompt: str | None = None
    system_prompt_mode: str | None = None
    extra_flags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] | None = None
    timeout: float | None = None
    """The caller's timeout; the server's own (``request_timeout_secs``) still caps it."""


class ActiveRun:
    """One run in flight: its handle, its slot, and who asked for it."""

    def __init__(
        self,
        runs: Runs,
        spec: RunSpec,
        handle: RunHandle,
        lease: Lease,
        *,
        key: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.runs = runs
        self.spec = spec
        self.handle = handle
        self.lease = lease
        self.key = key
        self.request_id = request_id
        self.started = time.perf_counter()
        self.result: Result | None = None
        self._closed = False

    @property
    def session_id(self) -> str | None:
        """clinvoker's session id (``None`` for ephemeral runs)."""
        session = getattr(self.handle, "session", None)
        return getattr(session, "id", None)

    @property
    def model(self) -> str | None:
        """The model the run uses (after alias resolution), if known."""
        request = getattr(self.handle, "request", None)
        return getattr(request, "model", None) or self.spec.model

    async def events(self) -> AsyncIterator[Event]:
        """The run's events, ending with :class:`Done`; closing early cancels the run."""
        try:
            async for event in self.handle:
                if isinstance(event, Done):
                    self.result = event.result
                yield event
        finally:
            await self.close()

    async def collect(self) -> Result:
        """Run to the end and return the final result."""
        async for _ in self.events():
            pass
        if self.result is None:
            raise BackendCrashed(
                f"backend {self.spec.backend!r} ended without a result", backend=self.spec.backend
            )
        return self.result

    async def close(self) -> None:
        """Cancel the run if it is still going; release its slot (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.result is None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.handle.cancel())
        finally:
            self.lease.release()
            self.runs._finished(self)


class Runs:
    """Starts runs for the server and keeps track of them until they end."""

    def __init__(
        self,
        *,
        config: Callable[[], Config],
        host: PluginHost | None,
        store: SessionStore | None,
        concurrency: Concurrency,
        telemetry: Telemetry,
        audit: AuditLog | None = None,
        is_key: Callable[[str], bool] = lambda _: False,
    ) -> None:
        self._config = config
        self.host = host
        self.store = store
        self.concurrency = concurrency
        self.telemetry = telemetry
        self.audit = audit
        self.is_key = is_key
        self.active: set[ActiveRun] = set()
        self.jobs: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.accepting = True

    @property
    def config(self) -> Config:
        """The configuration in force now (it changes on reload)."""
        return self._config()

    async def start(
        self, spec: RunSpec, principal: Principal, *, request_id: str | None = None
    ) -> ActiveRun:
        """Take a slot and start the run (errors: overloaded, unknown backend, missing CLI...).

        The run starts from the configuration in force now, as ``principal``'s policy shapes
        it (:func:`clinvoker_server.policy.run_config`), and keeps it to the end.
        """
        if not self.accepting:
            raise BackendOverloaded(
                "the server is shutting down", hint="retry against another instance"
            )
        check_spec(spec)
        policy = principal.policy
        lease = await self.concurrency.acquire(
            spec.backend,
            key=principal.name if policy is not None else None,
            key_limit=policy.max_concurrent if policy is not None else 0,
        )
        config = run_config(self.config, principal)
        try:
            if spec.ephemeral:
                handle = self._start_handle(spec, principal, config)
            else:  # creating the session writes (and locks) a file: keep it off the loop
                handle = await asyncio.to_thread(self._start_handle, spec, principal, config)
        except BaseException as exc:
            lease.release()
            if isinstance(exc, ClinvokerError):
                self.telemetry.record_error(spec.backend, exc.code)
            raise
        run = ActiveRun(self, spec, handle, lease, key=principal.name, request_id=request_id)
        self.active.add(run)
        self._idle.clear()
        self.telemetry.run_started(spec.backend)
        return run

    def _start_handle(self, spec: RunSpec, principal: Principal, config: Config) -> RunHandle:
        from clinvoker import api

        timeout = float(config.server.request_timeout_secs) or None
        return api.start(
            spec.prompt,
            backend=spec.backend,
            model=spec.model,
            workdir=spec.workdir,
            resume=spec.resume,
            ephemeral=spec.ephemeral,
            approval_mode=spec.approval_mode,
            sandbox_mode=spec.sandbox_mode,
            allowed_tools=spec.allowed_tools,
            disallowed_tools=spec.disallowed_tools,
            max_turns=spec.max_turns,
            system_prompt=spec.system_prompt,
            system_prompt_mode=spec.system_prompt_mode,
            timeout=min((t for t in (spec.timeout, timeout) if t), default=None),
            extra_flags=spec.extra_flags,
            tags=spec.tags,
            metadata=spec.metadata,
            owner=principal.owner,
            config=config,
            store=self.store,
            host=self.host,
        )

    async def job(self, work: Awaitable[T]) -> T:
        """Await an orchestration (parallel, chain, compare) as work that shutdown drains."""
        if not self.accepting:
            raise BackendOverloaded(
                "the server is shutting down", hint="retry against another instance"
            )
        task = asyncio.current_task()
        assert task is not None
        self.jobs.add(task)
        self._idle.clear()
        try:
            return await work
        finally:
            self.jobs.discard(task)
            self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self.active and not self.jobs:
            self._idle.set()

    def _finished(self, run: ActiveRun) -> None:
        self.active.discard(run)
        self._maybe_idle()
        result = run.result
        usage = result.usage if result is not None else None
        ok = result is not None and result.ok
        self.telemetry.run_finished(
            run.spec.backend,
            ok=ok,
            elapsed=time.perf_counter() - run.started,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            error_code=(result.error_code if result is not None else "cancelled") or None,
        )
        if self.audit is not None:
            self.audit.write(audit_record(run, self.is_key))

    async def drain(self, grace: float) -> None:
        """Stop taking runs, wait up to ``grace`` seconds for the rest, then cancel them."""
        self.accepting = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        await self.cancel_all()

    async def cancel_all(self) -> None:
        """Cancel every run and orchestration in flight and wait until their processes are gone."""
        runs: Sequence[ActiveRun] = list(self.active)
        jobs = list(self.jobs)
        for job in jobs:
            job.cancel()
        if runs or jobs:
            await asyncio.gather(*(r.close() for r in runs), *jobs, return_exceptions=True)


def check_spec(spec: RunSpec) -> None:
    """Refuse text no process can take (NUL characters) before anything is started."""
    check_text(spec.prompt, "prompt")
    check_text(spec.system_prompt, "system_prompt")
    check_text(spec.model, "model")
    check_text(spec.workdir, "workdir")
    for i, flag in enumerate(spec.extra_flags):
        check_text(flag, f"extra[{i}]")
    for key, value in (spec.metadata or {}).items():
        check_text(key + value, f"metadata.{key}")


def result_error(result: Result) -> ClinvokerError | None:
    """The error a failed result stands for (``None`` when it succeeded)."""
    if result.ok:
        return None
    message = result.error or f"{result.backend} exited with code {result.exit_code}"
    code = result.error_code or ""
    if code == "timeout":
        return RunTimeout(message, hint="raise the timeout or ask for less")
    if code == "cancelled":
        return Cancelled(message)
    if code in ("overloaded", "server_overloaded"):
        return BackendOverloaded(message, backend=result.backend)
    if code == "rate_limited":
        return RateLimited(f"{result.backend}: {message}", retry_after=1)
    return BackendError(
        f"{result.backend} failed: {message}",
        backend=result.backend,
        backend_exit_code=result.exit_code,
    )


def audit_record(run: ActiveRun, is_key: Callable[[str], bool]) -> dict[str, Any]:
    """The audit-log line of a finished (or cancelled) run (see :mod:`clinvoker_server.audit`)."""
    result = run.result
    command = getattr(run.handle, "command", None)
    request = getattr(run.handle, "request", None)
    usage = result.usage if result is not None else None
    status = "cancelled" if result is None else "ok" if result.ok else "error"
    return {
        "request_id": run.request_id,
        "key": run.key,
        "backend": run.spec.backend,
        "model": (result.model if result is not None else None) or run.model,
        "workdir": getattr(request, "workdir", None) or run.spec.workdir,
        "session_id": run.session_id,
        "command": redact_command(command.argv, is_key) if command is not None else None,
        "duration_ms": round((time.perf_counter() - run.started) * 1000, 3),
        "exit_code": result.exit_code if result is not None else None,
        "status": status,
        "error_code": (result.error_code if result is not None else "cancelled") or None,
        "tokens": {
            "input": usage.input_tokens if usage else 0,
            "output": usage.output_tokens if usage else 0,
            "cached": usage.cached_tokens if usage else 0,
        },
    }
