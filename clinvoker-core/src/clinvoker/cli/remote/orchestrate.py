"""``parallel``, ``chain`` and ``compare`` on a server: request bodies and the progress stream.

The task/step files are read locally (same errors as a local run) and sent as the server's
``/api/v1/parallel|chain|compare`` bodies with ``wire_format: clinvk``; the server answers with
NDJSON progress (``start`` / ``done`` per run, then the whole ``report``), which drives the same
progress display and printing as a local run. Relative workdirs are made absolute here (a
server on another machine needs absolute paths of its own anyway). Task fields the server API
cannot honour are refused with a message saying so instead of being dropped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import msgspec

from clinvoker.cli.remote.errors import ServerError, error_for_code
from clinvoker.cli.remote.http import Connection, Stream
from clinvoker.cli.remote.run import LineReader
from clinvoker.cli.remote.wire import (
    ProgressDone,
    ProgressError,
    ProgressReport,
    ProgressStart,
    progress_decoder,
)
from clinvoker.errors import UsageError
from clinvoker.orchestrate_reports import Outcome
from clinvoker.orchestrate_specs import ChainSpec, ParallelSpec

__all__ = ["chain_body", "compare_body", "parallel_body", "run_remote"]

R = TypeVar("R")


def _absolute(path: str | None) -> str:
    return os.path.abspath(os.path.expanduser(path)) if path else ""


def _compact(fields: dict[str, Any]) -> dict[str, Any]:
    """Leave out empty values: the server's defaults are the same."""
    return {k: v for k, v in fields.items() if v not in (None, "", 0, False, [], {})}


def _refuse(where: str, **unsupported: bool) -> None:
    for name, used in unsupported.items():
        if used:
            raise UsageError(
                f"{where}: {name} is not available with --server (the server's API has no such "
                "field; its own limits apply)",
                hint=f"Remove {name} from the file, or run without --server",
            )


def parallel_body(
    spec: ParallelSpec,
    *,
    max_parallel: int,
    fail_fast: bool,
    dry_run: bool,
    workdir: str | None,
) -> dict[str, Any]:
    """The ``POST /api/v1/parallel`` body for a task file."""
    dry = dry_run or spec.dry_run or all(t.dry_run for t in spec.tasks)
    tasks = []
    for i, t in enumerate(spec.tasks):
        _refuse(
            f"task {i + 1}",
            timeout=t.timeout is not None,
            **{"ephemeral: false": not t.ephemeral},
            metadata=bool(t.metadata),
            dry_run=t.dry_run and not dry,
        )
        tasks.append(
            _compact(
                {
                    "prompt": t.prompt,
                    "backend": t.backend,
                    "workdir": _absolute(t.workdir or workdir),
                    "model": t.model,
                    "extra": list(t.extra),
                    "approval_mode": t.approval_mode,
                    "sandbox_mode": t.sandbox_mode,
                    "max_tokens": t.max_tokens,
                    "max_turns": t.max_turns,
                    "system_prompt": t.system_prompt,
                    "verbose": t.verbose,
                    "id": t.id,
                    "name": t.name,
                    "tags": list(t.tags),
                    "meta": dict(t.meta),
                }
            )
        )
    return {
        "tasks": tasks,
        "max_parallel": max_parallel,
        "fail_fast": fail_fast,
        "dry_run": dry,
        "wire_format": "clinvk",
    }


def chain_body(
    spec: ChainSpec, *, model: str | None, workdir: str | None, dry_run: bool
) -> dict[str, Any]:
    """The ``POST /api/v1/chain`` body; ``-w`` goes to the steps that would use it locally."""
    steps = []
    for i, s in enumerate(spec.steps):
        _refuse(f"step {i + 1}", timeout=s.timeout is not None)
        default_dir = workdir if i == 0 or not spec.pass_working_dir else None
        steps.append(
            _compact(
                {
                    "prompt": s.prompt,
                    "backend": s.backend,
                    "model": s.model or model,
                    "workdir": _absolute(s.workdir or default_dir),
                    "approval_mode": s.approval_mode,
                    "sandbox_mode": s.sandbox_mode,
                    "max_tokens": s.max_tokens,
                    "max_turns": s.max_turns,
                    "system_prompt": s.system_prompt,
                    "verbose": s.verbose,
                    "extra": list(s.extra),
                    "name": s.name,
                }
            )
        )
    return {
        "steps": steps,
        "stop_on_failure": spec.stop_on_failure,
        "pass_working_dir": spec.pass_working_dir,
        "pass_session_id": spec.pass_session_id,
        "persist_sessions": spec.persist_sessions,
        "dry_run": dry_run or spec.dry_run,
        "wire_format": "clinvk",
    }


def compare_body(
    prompt: str,
    backends: list[str],
    *,
    model: str | None,
    workdir: str | None,
    sequential: bool,
    dry_run: bool,
) -> dict[str, Any]:
    """The ``POST /api/v1/compare`` body."""
    return {
        "backends": backends,
        "prompt": prompt,
        "model": model or "",
        "workdir": _absolute(workdir),
        "sequential": sequential,
        "dry_run": dry_run,
        "wire_format": "clinvk",
    }


async def _open(conn: Connection, path: str, body: dict[str, Any]) -> Stream:
    """Send the request from a worker thread (the loop stays free for Ctrl-C)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clinvk-remote")
    try:
        future = asyncio.get_running_loop().run_in_executor(
            pool, lambda: conn.stream("POST", path, body=body)
        )
        try:
            return await future
        except asyncio.CancelledError:
            conn.abort()
            raise
    finally:
        pool.shutdown(wait=True)


async def run_remote(
    conn: Connection,
    path: str,
    body: dict[str, Any],
    report_type: type[R],
    *,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> R:
    """Run an orchestration on the server, calling the progress hooks as its runs start and end.

    :raises ClinvokerError: the server refused it or it could not run (the local error class).
    """
    reader = LineReader(await _open(conn, path, body))
    try:
        while True:
            line = await reader.readline()
            if not line:
                raise ServerError(
                    f"the server at {conn.endpoint.url} ended the answer before the report",
                    hint="See the server's log",
                )
            if not line.strip():
                continue  # a keep-alive
            try:
                item = progress_decoder.decode(line)
            except msgspec.ValidationError:
                continue  # a progress line this clinvk does not know yet
            except msgspec.DecodeError:
                raise ServerError(
                    f"the server at {conn.endpoint.url} sent a line that is not JSON",
                    hint="Check that --server points at a clinvoker server",
                ) from None
            if isinstance(item, ProgressStart):
                if on_start is not None:
                    on_start(item.index)
            elif isinstance(item, ProgressDone):
                if on_done is not None:
                    on_done(msgspec.json.decode(item.outcome, type=Outcome))
            elif isinstance(item, ProgressError):
                raise error_for_code(item.error.code, item.error.message)
            elif isinstance(item, ProgressReport):
                report = msgspec.json.decode(item.report, type=report_type)
                while await reader.readline():
                    pass
                reader.finish()
                return report
    finally:
        reader.close()
