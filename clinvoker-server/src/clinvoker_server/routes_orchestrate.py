"""``POST /api/v1/parallel``, ``/api/v1/chain`` and ``/api/v1/compare`` over :mod:`clinvoker.orchestrate`.

Every task and step is checked before anything runs — known backend (404), the key's backend
policy (403), workdir policy (422/403), extra-flag allowlist (422) — so a bad item fails the
request instead of hiding in the results. Runs are ephemeral; at most
``server.max_concurrent_per_backend`` tasks of one request run at once; a client that disconnects
stops every run; shutdown waits for (then cancels) orchestrations like single runs.

Responses are the core's JSON reports (the CLI's ``--json`` shapes) plus the Go API's
millisecond fields: ``total_duration_ms`` and, per result, ``duration_ms`` and ``token_usage``.

With ``wire_format: clinvk`` (what ``clinvk --server`` sends) the answer is NDJSON progress
instead: ``{"type":"start","index":i}`` when a run starts, ``{"type":"done","outcome":{...}}``
when it ends, and last ``{"type":"report","report":{...}}`` (the core's report struct) — or
``{"type":"error","error":{"code","message"}}`` if the orchestration could not run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from clinvoker.errors import ClinvokerError, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from clinvoker_server.audit import outcome_record
from clinvoker_server.conversation import check_text
from clinvoker_server.errors import Family, invalid_field
from clinvoker_server.flags import check_extra_flags
from clinvoker_server.jsonio import encode, json_response, prepare_decoders, read_json
from clinvoker_server.native_wire import (
    ChainRequest,
    ChainStep,
    CompareRequest,
    ParallelRequest,
    TaskRequest,
)
from clinvoker_server.policy import check_run, run_config
from clinvoker_server.sse import StreamResponse
from clinvoker_server.state import (
    ServerState,
    principal_of,
    request_id_of,
    server_of,
    until_disconnect,
)

if TYPE_CHECKING:
    from clinvoker.orchestrate import Outcome

    from clinvoker_server.auth import Principal

__all__ = ["chain", "compare", "parallel"]

prepare_decoders(ParallelRequest, ChainRequest, CompareRequest)


def _check_item(
    server: ServerState,
    principal: Principal,
    backend: str,
    workdir: str,
    extra: Sequence[str],
    param: str,
    *,
    known: bool = True,
    model: str = "",
    approval: str = "",
    sandbox: str = "",
) -> tuple[str | None, str, str, list[str]]:
    """Check one task/step against the server's and the key's policy.

    :returns: its resolved workdir, the approval and sandbox modes it runs with, and its
        ``extra`` flags with the directories they name resolved.
    """
    for i, flag in enumerate(extra):
        check_text(flag, f"{param}.extra[{i}]")
    principal.check_backend(backend)
    checked: tuple[str | None, str | None, Sequence[str]] = (approval, sandbox, extra)
    if known or backend in server.host.backends:
        checked = check_run(
            principal,
            server.host.backend(backend),
            model=model,
            approval=approval,
            sandbox=sandbox,
            extra=extra,
            workdirs=server.workdirs,
            param=f"{param}.",
        )
    check_extra_flags(backend, extra, f"{param}.extra")
    resolved = server.workdirs.check(
        workdir or None, roots=principal.roots, param=f"{param}.workdir"
    )
    return resolved, checked[0] or "", checked[1] or "", list(checked[2])


class _ItemFields(TypedDict):
    """What a parallel task and a chain step share, checked and resolved."""

    prompt: str
    backend: str
    workdir: str
    model: str
    extra: list[str]
    approval_mode: str
    sandbox_mode: str
    max_turns: int
    system_prompt: str
    verbose: bool
    name: str


def _item_fields(
    server: ServerState, principal: Principal, item: TaskRequest | ChainStep, param: str
) -> _ItemFields:
    """Check one task or step (``param``: ``tasks[i]`` / ``steps[i]``) and resolve its backend,
    workdir and modes."""
    if not item.prompt.strip():
        raise invalid_field(f"{param}.prompt is required", f"{param}.prompt")
    for field in ("prompt", "model", "system_prompt", "workdir"):
        check_text(getattr(item, field), f"{param}.{field}")
    backend = item.backend or server.config.default_backend
    workdir, approval, sandbox, extra = _check_item(
        server,
        principal,
        backend,
        item.workdir,
        item.extra,
        param,
        model=item.model,
        approval=item.approval_mode,
        sandbox=item.sandbox_mode,
    )
    return _ItemFields(
        prompt=item.prompt,
        backend=backend,
        workdir=workdir or "",
        model=item.model,
        extra=extra,
        approval_mode=approval,
        sandbox_mode=sandbox,
        max_turns=item.max_turns,
        system_prompt=item.system_prompt,
        verbose=item.verbose,
        name=item.name,
    )


def _report(report: Any) -> dict[str, Any]:
    body: dict[str, Any] = report.to_dict()
    body["total_duration_ms"] = int(report.total_duration_s * 1000)
    outcomes: list[Outcome] = report.results
    for item, outcome in zip(body["results"], outcomes, strict=True):
        item["duration_ms"] = int(outcome.duration_s * 1000)
        if outcome.usage is not None:
            item["token_usage"] = {
                "input_tokens": outcome.usage.input_tokens,
                "output_tokens": outcome.usage.output_tokens,
                "cached_tokens": outcome.usage.cached_tokens,
                "reasoning_tokens": outcome.usage.reasoning_tokens,
            }
    return body


Work = Callable[..., Awaitable[Any]]
"""Starts the orchestration; takes the ``on_start`` / ``on_done`` progress hooks."""


async def _answer(
    request: Request, server: ServerState, wire_format: str, work: Work
) -> Response | StreamResponse:
    """The report as JSON, or (``wire_format: clinvk``) NDJSON progress ending in the report."""
    if wire_format != "clinvk":
        report = await until_disconnect(request, server.runs.job(work()))
        return json_response(_report(report))
    return StreamResponse(
        _progress(server, work),
        media_type="application/x-ndjson",
        keepalive=server.keepalive,
        keepalive_frame=b"\n",
    )


async def _progress(server: ServerState, work: Work) -> AsyncIterator[bytes]:
    """NDJSON lines while the orchestration runs; closing this early cancels every run."""
    lines: asyncio.Queue[bytes] = asyncio.Queue()

    def started(index: int) -> None:
        lines.put_nowait(encode({"type": "start", "index": index}) + b"\n")

    def done(outcome: Outcome) -> None:
        lines.put_nowait(encode({"type": "done", "outcome": outcome}) + b"\n")

    job = asyncio.ensure_future(server.runs.job(work(on_start=started, on_done=done)))
    try:
        while not job.done():
            line = asyncio.ensure_future(lines.get())
            await asyncio.wait({line, job}, return_when=asyncio.FIRST_COMPLETED)
            if line.done():
                yield line.result()
            else:
                line.cancel()
        while not lines.empty():
            yield lines.get_nowait()
        try:
            report = job.result()
        except ClinvokerError as exc:
            error = {"code": exc.code, "message": str(exc)}
            yield encode({"type": "error", "error": error}) + b"\n"
            return
        yield encode({"type": "report", "report": report}) + b"\n"
    finally:
        if not job.done():
            job.cancel()
            with contextlib.suppress(BaseException):
                await job


def audited(request: Request, work: Work, route: str) -> Work:
    """``work`` that also writes an audit-log line when each of its runs ends."""
    server, principal = server_of(request), principal_of(request)
    if not server.audit.path:
        return work
    request_id = request_id_of(request)

    def run(**hooks: Any) -> Awaitable[Any]:
        progress = hooks.pop("on_done", None)

        def done(outcome: Outcome) -> None:
            server.audit.write(
                outcome_record(outcome, key=principal.name, request_id=request_id, route=route)
            )
            if progress is not None:
                progress(outcome)

        return work(on_done=done, **hooks)

    return run


def _common(server: ServerState, principal: Principal) -> dict[str, Any]:
    timeout = float(server.config.server.request_timeout_secs) or None
    return {
        "run_timeout": timeout,
        "config": run_config(server.config, principal),
        "host": server.host,
        "store": server.store(),
    }


async def parallel(request: Request) -> Response | StreamResponse:
    """``POST /api/v1/parallel``."""
    from clinvoker.orchestrate import ParallelSpec, Task, run_parallel

    server, principal = server_of(request), principal_of(request)
    body = await read_json(request, ParallelRequest, Family.NATIVE)
    if not body.tasks:
        raise invalid_field("tasks are required; send at least one task", "tasks")
    tasks = [
        Task(
            **_item_fields(server, principal, t, f"tasks[{i}]"),
            id=t.id,
            tags=list(t.tags),
            meta=dict(t.meta),
        )
        for i, t in enumerate(body.tasks)
    ]
    cap = server.config.server.max_concurrent_per_backend
    if principal.policy is not None and principal.policy.max_concurrent:
        cap = min(cap, principal.policy.max_concurrent)  # the key's own cap
    limit = min(body.max_parallel or server.config.parallel.max_workers, cap)
    spec = ParallelSpec(tasks=tasks, max_parallel=limit, fail_fast=body.fail_fast)

    def work(**hooks: Any) -> Awaitable[Any]:
        return run_parallel(
            spec, max_parallel=limit, dry_run=body.dry_run, **_common(server, principal), **hooks
        )

    return await _answer(request, server, body.wire_format, audited(request, work, "parallel"))


async def chain(request: Request) -> Response | StreamResponse:
    """``POST /api/v1/chain``."""
    from clinvoker.orchestrate import ChainSpec, Step, run_chain

    server, principal = server_of(request), principal_of(request)
    body = await read_json(request, ChainRequest, Family.NATIVE)
    if not body.steps:
        raise invalid_field("steps are required; send at least one step", "steps")
    if body.persist_sessions and principal.owner is not None:
        raise invalid_field(
            "persist_sessions is not available to named API keys (chain sessions have no owner)",
            "persist_sessions",
            cls=ValidationError,
        )
    steps = [
        Step(**_item_fields(server, principal, s, f"steps[{i}]")) for i, s in enumerate(body.steps)
    ]
    spec = ChainSpec(
        steps=steps,
        stop_on_failure=body.stop_on_failure,
        pass_working_dir=body.pass_working_dir,
        pass_session_id=body.pass_session_id,
        persist_sessions=body.persist_sessions,
    )

    def work(**hooks: Any) -> Awaitable[Any]:
        return run_chain(spec, dry_run=body.dry_run, **_common(server, principal), **hooks)

    return await _answer(request, server, body.wire_format, audited(request, work, "chain"))


async def compare(request: Request) -> Response | StreamResponse:
    """``POST /api/v1/compare``."""
    from clinvoker.orchestrate import run_compare

    server, principal = server_of(request), principal_of(request)
    body = await read_json(request, CompareRequest, Family.NATIVE)
    if not body.backends:
        raise invalid_field("backends are required; name at least one", "backends")
    if not body.prompt.strip():
        raise invalid_field("prompt is required", "prompt")
    check_text(body.prompt, "prompt")
    check_text(body.model, "model")
    workdir = None
    for i, name in enumerate(body.backends):
        workdir, _, _, _ = _check_item(
            server,
            principal,
            name,
            body.workdir,
            (),
            f"backends[{i}]",
            known=False,
            model=body.model,
        )

    def work(**hooks: Any) -> Awaitable[Any]:
        return run_compare(
            body.prompt,
            body.backends,
            model=body.model or None,
            workdir=workdir,
            sequential=body.sequential,
            dry_run=body.dry_run,
            **_common(server, principal),
            **hooks,
        )

    return await _answer(request, server, body.wire_format, audited(request, work, "compare"))
