"""Many runs from one request: :func:`run_parallel`, :func:`run_chain`, :func:`run_compare`.

Used by ``clinvk parallel|chain|compare`` and by the server's ``/api/v1/parallel|chain|compare``.
Each run goes through :func:`clinvoker.api.start`, so config defaults, timeouts (a task's
``timeout``, else ``run_timeout``, else ``unified_flags.command_timeout_secs``) and process-group
cleanup apply to every task. Runs are ephemeral unless asked otherwise. Results come back in
input order.

Fail-fast (parallel): the first failed task stops every running task (their whole process groups)
and the tasks not started yet; both are reported ``cancelled`` and counted as neither completed
nor failed.

Progress: ``on_start(index)`` when a run starts, ``on_done(outcome)`` when it ends (in finishing
order). Cancelling the awaiting task stops every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clinvoker.errors import ClinvokerError, UsageError
from clinvoker.orchestrate_reports import (
    ChainReport,
    CompareReport,
    Outcome,
    ParallelReport,
    write_output_dir,
)
from clinvoker.orchestrate_specs import ChainSpec, ParallelSpec, Step, Task

if TYPE_CHECKING:
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost
    from clinvoker.result import Result
    from clinvoker.run_handle import RunHandle
    from clinvoker.runner import Runner
    from clinvoker.sessions import SessionStore

__all__ = [
    "ChainReport",
    "ChainSpec",
    "CompareReport",
    "Outcome",
    "ParallelReport",
    "ParallelSpec",
    "Step",
    "Task",
    "run_chain",
    "run_compare",
    "run_parallel",
    "write_output_dir",
]

StartHook = Callable[[int], None]
DoneHook = Callable[[Outcome], None]

FAIL_FAST_ERROR = "canceled (fail-fast)"
_PREVIOUS = "{{previous}}"
_SESSION = "{{session}}"


def _now() -> datetime:
    return datetime.now(UTC)


class _Runs:
    """The runs of one orchestration: shared dependencies, progress hooks, fail-fast stop."""

    def __init__(
        self,
        *,
        config: Config | None,
        host: PluginHost | None,
        store: SessionStore | None,
        runner: Runner | None,
        on_start: StartHook | None,
        on_done: DoneHook | None,
    ) -> None:
        if config is None:
            from clinvoker.config import load_config

            config = load_config()
        self.config = config
        self.deps: dict[str, Any] = {"config": config, "host": host, "store": store}
        if runner is not None:
            self.deps["runner"] = runner
        self.on_start = on_start
        self.on_done = on_done
        self.active: set[RunHandle] = set()
        self.stopped = False
        self.started_at = _now()
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    async def one(
        self, index: int, prompt: str, options: dict[str, Any], *, dry_run: bool, **labels: Any
    ) -> Outcome:
        """Run one prompt and describe how it went (never raises ``ClinvokerError``)."""
        from clinvoker import api

        backend = options.get("backend") or self.config.default_backend
        base = Outcome(index=index, backend=backend, status="cancelled", exit_code=-1, **labels)
        if self.stopped:
            return self._done(base, error=FAIL_FAST_ERROR, error_code="cancelled")
        if self.on_start is not None:
            self.on_start(index)
        start, t0 = _now(), time.monotonic()
        base.start_time = start
        try:
            make = api.prepare if dry_run else api.start
            handle = make(prompt, **options, **self.deps)
        except ClinvokerError as exc:
            return self._done(
                base, status="failed", exit_code=1, error=str(exc), error_code=exc.code, t0=t0
            )
        base.workdir = handle.request.workdir
        base.model = handle.request.model
        if dry_run:
            return self._done(
                base, status="completed", exit_code=0, command=list(handle.command.argv), t0=t0
            )
        self.active.add(handle)
        try:
            result = await handle.result()
        finally:
            self.active.discard(handle)
        return self._from_result(base, result, t0)

    def _from_result(self, base: Outcome, result: Result, t0: float) -> Outcome:
        if result.error_code == "cancelled" and self.stopped:
            return self._done(base, error=FAIL_FAST_ERROR, error_code="cancelled", t0=t0)
        return self._done(
            base,
            status="completed" if result.ok else "failed",
            exit_code=result.exit_code,
            output=result.content,
            error=result.error,
            error_code=result.error_code,
            model=result.model or base.model,
            session_id=result.session_id,
            clinvk_session_id=result.clinvk_session_id,
            usage=result.usage,
            cost_usd=result.cost_usd,
            t0=t0,
        )

    def _done(self, outcome: Outcome, *, t0: float | None = None, **changes: Any) -> Outcome:
        for key, value in changes.items():
            setattr(outcome, key, value)
        if t0 is not None:
            outcome.end_time = _now()
            outcome.duration_s = time.monotonic() - t0
        if self.on_done is not None:
            self.on_done(outcome)
        return outcome

    async def stop_all(self) -> None:
        """Fail-fast: no new runs; stop the running ones (their whole process groups)."""
        self.stopped = True
        await asyncio.gather(*(h.cancel() for h in list(self.active)), return_exceptions=True)


async def _all(coros: Iterable[Coroutine[Any, Any, Outcome]]) -> list[Outcome]:
    """Run concurrently and return the results in order.

    Unlike :func:`asyncio.gather`, a cancellation waits until every run has stopped its
    process group before it propagates, so nothing outlives the caller.
    """
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks)
    except asyncio.CancelledError:
        for t in tasks:
            t.cancel()
        while not all(t.done() for t in tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(tasks)
        raise
    return [t.result() for t in tasks]


def _options(
    item: Task | Step,
    *,
    model: str | None,
    workdir: str | None,
    timeout: float | None,
    ephemeral: bool,
) -> dict[str, Any]:
    """``clinvoker.api`` options for one task or step (empty fields fall back to config)."""
    opts: dict[str, Any] = {
        "backend": item.backend or None,
        "model": item.model or model or None,
        "workdir": item.workdir or workdir or None,
        "approval_mode": item.approval_mode or None,
        "sandbox_mode": item.sandbox_mode or None,
        "max_turns": item.max_turns or None,
        "system_prompt": item.system_prompt or None,
        "verbose": True if item.verbose else None,
        "extra_flags": tuple(item.extra),
        "timeout": item.timeout or timeout,
        "ephemeral": ephemeral,
    }
    if isinstance(item, Task) and not ephemeral:
        opts["tags"] = tuple(item.tags)
        opts["metadata"] = {**item.meta, **item.metadata} or None
    return opts


async def run_parallel(
    spec: ParallelSpec,
    *,
    max_parallel: int | None = None,
    fail_fast: bool | None = None,
    dry_run: bool = False,
    workdir: str | None = None,
    run_timeout: float | None = None,
    config: Config | None = None,
    host: PluginHost | None = None,
    store: SessionStore | None = None,
    runner: Runner | None = None,
    on_start: StartHook | None = None,
    on_done: DoneHook | None = None,
) -> ParallelReport:
    """Run the tasks concurrently, at most ``max_parallel`` at a time.

    Precedence: ``max_parallel`` argument > ``spec.max_parallel`` > config
    ``parallel.max_workers``; fail-fast: the argument if given, else ``spec.fail_fast`` or config
    ``parallel.fail_fast``. A task's own ``workdir`` and ``timeout`` win over the arguments.

    :raises UsageError: no tasks.
    """
    if not spec.tasks:
        raise UsageError("no tasks provided", hint="add at least one entry under 'tasks'")
    runs = _Runs(
        config=config, host=host, store=store, runner=runner, on_start=on_start, on_done=on_done
    )
    limit = max_parallel or spec.max_parallel or runs.config.parallel.max_workers
    if limit < 1:
        raise UsageError(f"max_parallel must be at least 1, got {limit}")
    stop_early = (
        fail_fast if fail_fast is not None else spec.fail_fast or runs.config.parallel.fail_fast
    )
    gate = asyncio.Semaphore(limit)

    async def task(index: int, item: Task) -> Outcome:
        async with gate:
            options = _options(
                item, model=None, workdir=workdir, timeout=run_timeout, ephemeral=item.ephemeral
            )
            outcome = await runs.one(
                index,
                item.prompt,
                options,
                dry_run=dry_run or spec.dry_run or item.dry_run,
                name=item.name,
                task_id=item.id,
                tags=list(item.tags),
                meta={**item.meta, **item.metadata},
            )
        if stop_early and outcome.status == "failed" and not runs.stopped:
            await runs.stop_all()
        return outcome

    results = await _all(task(i, t) for i, t in enumerate(spec.tasks))
    return ParallelReport(
        results=list(results),
        start_time=runs.started_at,
        end_time=_now(),
        total_duration_s=runs.elapsed(),
    )


async def run_chain(
    spec: ChainSpec,
    *,
    model: str | None = None,
    workdir: str | None = None,
    run_timeout: float | None = None,
    dry_run: bool = False,
    config: Config | None = None,
    host: PluginHost | None = None,
    store: SessionStore | None = None,
    runner: Runner | None = None,
    on_start: StartHook | None = None,
    on_done: DoneHook | None = None,
) -> ChainReport:
    """Run the steps in order; ``{{previous}}`` in a prompt is the previous step's answer.

    A step's workdir: its own, else the previous step's (``pass_working_dir``), else ``workdir``.
    A step's model: its own, else ``model``, else config. With ``stop_on_failure`` the chain
    ends at the first failed step; otherwise it goes on and ``failed_step`` is the last failure.

    :raises UsageError: no steps, or session options that cannot work together.
    """
    _check_chain(spec)
    runs = _Runs(
        config=config, host=host, store=store, runner=runner, on_start=on_start, on_done=on_done
    )
    dry = dry_run or spec.dry_run
    results: list[Outcome] = []
    failed_step: int | None = None
    previous: Outcome | None = None
    for index, step in enumerate(spec.steps):
        prompt = step.prompt
        if not dry:
            prompt = prompt.replace(_PREVIOUS, previous.output if previous else "")
        prompt = prompt.replace(_SESSION, (previous.clinvk_session_id or "") if previous else "")
        carried = previous.workdir if previous is not None and spec.pass_working_dir else None
        options = _options(
            step,
            model=model,
            workdir=carried or workdir,
            timeout=run_timeout,
            ephemeral=not spec.persist_sessions,
        )
        if (
            spec.pass_session_id
            and previous is not None
            and previous.clinvk_session_id
            and previous.backend == (step.backend or runs.config.default_backend)
        ):
            options["resume"] = previous.clinvk_session_id
            options["workdir"] = None if not step.workdir else options["workdir"]
        outcome = await runs.one(index, prompt, options, dry_run=dry, name=step.name)
        results.append(outcome)
        previous = outcome
        if outcome.status != "completed":
            failed_step = index + 1
            if spec.stop_on_failure:
                break
    return ChainReport(
        results=results,
        total_steps=len(spec.steps),
        failed_step=failed_step,
        start_time=runs.started_at,
        end_time=_now(),
        total_duration_s=runs.elapsed(),
    )


def _check_chain(spec: ChainSpec) -> None:
    if not spec.steps:
        raise UsageError("no steps defined in chain", hint="add at least one entry under 'steps'")
    if spec.pass_session_id and not spec.persist_sessions:
        raise UsageError(
            "pass_session_id continues conversations, which needs persist_sessions: true"
        )
    if not spec.persist_sessions:
        for number, step in enumerate(spec.steps, 1):
            if _SESSION in step.prompt:
                raise UsageError(
                    f"chain step {number} uses {_SESSION} but sessions are not persisted",
                    hint="set persist_sessions: true",
                )


async def run_compare(
    prompt: str,
    backends: Sequence[str],
    *,
    model: str | None = None,
    workdir: str | None = None,
    run_timeout: float | None = None,
    sequential: bool = False,
    dry_run: bool = False,
    config: Config | None = None,
    host: PluginHost | None = None,
    store: SessionStore | None = None,
    runner: Runner | None = None,
    on_start: StartHook | None = None,
    on_done: DoneHook | None = None,
) -> CompareReport:
    """Send one prompt to each backend (concurrently, or one after another with ``sequential``).

    Results are in the order the backends were given (duplicates dropped). A backend that is
    unknown or not installed gets a failed result with ``error_code`` ``unknown_backend`` or
    ``backend_unavailable``; the others still run.

    :raises UsageError: no backends given.
    """
    names = list(dict.fromkeys(b.strip() for b in backends if b.strip()))
    if not names:
        raise UsageError(
            "no backends to compare", hint="name them with --backends or use --all-backends"
        )
    runs = _Runs(
        config=config, host=host, store=store, runner=runner, on_start=on_start, on_done=on_done
    )

    async def one(index: int, name: str) -> Outcome:
        item = Task(prompt=prompt, backend=name)
        options = _options(item, model=model, workdir=workdir, timeout=run_timeout, ephemeral=True)
        return await runs.one(index, prompt, options, dry_run=dry_run)

    if sequential:
        results = [await one(i, n) for i, n in enumerate(names)]
    else:
        results = await _all(one(i, n) for i, n in enumerate(names))
    return CompareReport(
        prompt=prompt,
        backends=names,
        results=results,
        start_time=runs.started_at,
        end_time=_now(),
        total_duration_s=runs.elapsed(),
    )
