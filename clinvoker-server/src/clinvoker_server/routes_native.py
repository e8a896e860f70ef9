"""Native REST API: prompt, resume, backends and sessions (``/api/v1``).

Bad input is a 4xx in the native error shape (never HTTP 200 with an in-body error, unlike the Go
tool): unknown backend 404, bad workdir 422/403, disallowed extra flag 422, unknown field 422,
malformed JSON 400. A run that *happened* but failed is HTTP 200 with ``exit_code``/``error``.

``POST /api/v1/prompt`` streams when ``output_format`` is ``stream-json`` (NDJSON) or when the
client sends ``Accept: text/event-stream`` (SSE). ``session_id`` on a prompt, or
``POST /api/v1/sessions/{id}/resume``, continues a stored session; ``continue_session`` continues
the newest resumable one in the run's workdir.

``wire_format: clinvk`` (what ``clinvk --server`` sends) always streams clinvoker's own events as
NDJSON, with ``x-clinvk-backend``, ``x-clinvk-session`` and (for a continued session)
``x-clinvk-continued`` headers, and answers a dry run with the command it would run.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any

from clinvoker.errors import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from clinvoker_server.auth import Principal
from clinvoker_server.errors import Family, invalid_field
from clinvoker_server.flags import check_extra_flags
from clinvoker_server.jsonio import json_response, prepare_decoders, read_json
from clinvoker_server.native_stream import (
    clinvk_frames,
    native_frames,
    prompt_response,
    token_usage,
)
from clinvoker_server.native_wire import (
    BackendInfo,
    BackendList,
    DeleteResponse,
    DryRunCommand,
    PromptRequest,
    PromptResponse,
    ResumeRequest,
    SessionInfo,
    SessionList,
)
from clinvoker_server.policy import check_run, run_config
from clinvoker_server.runs import RunSpec
from clinvoker_server.sse import KEEPALIVE_COMMENT, StreamResponse
from clinvoker_server.state import (
    ServerState,
    principal_of,
    request_id_of,
    server_of,
    until_disconnect,
)

__all__ = ["backends", "delete_session", "get_session", "list_sessions", "prompt", "resume"]

prepare_decoders(PromptRequest, ResumeRequest)


def _none(value: Any) -> Any:
    return value if value else None


def run_spec(
    server: ServerState,
    principal: Principal,
    body: PromptRequest | ResumeRequest,
    backend: str,
    *,
    resume: str | None = None,
    ephemeral: bool = False,
    session_workdir: str | None = None,
) -> RunSpec:
    """Check and translate the shared run fields into a :class:`RunSpec`.

    A resumed session's own workdir is checked against the policy too (it may have been created
    by the command line, which has no workdir policy).
    """
    if not body.prompt.strip():
        raise invalid_field("prompt is required; send a non-empty prompt", "prompt")
    approval, sandbox, extra = check_run(
        principal,
        server.host.backend(backend),
        model=body.model,
        approval=_none(body.approval_mode),
        sandbox=_none(body.sandbox_mode),
        extra=body.extra,
        workdirs=server.workdirs,
    )
    roots = principal.roots
    resumed_in = None
    if session_workdir:  # the session's directory, where the core will run it
        resumed_in = server.workdirs.check(session_workdir, roots=roots, param="session_id")
    if body.workdir or not resumed_in:
        workdir = server.workdirs.check(_none(body.workdir), roots=roots)
    else:  # the real path that was checked, not the one the session recorded
        workdir = resumed_in
    metadata = dict(body.metadata) if body.metadata else None
    return RunSpec(
        prompt=body.prompt,
        backend=backend,
        model=_none(body.model),
        workdir=workdir,
        resume=resume,
        ephemeral=ephemeral,
        approval_mode=approval,
        sandbox_mode=sandbox,
        allowed_tools=tuple(body.allowed_tools) or None,
        disallowed_tools=tuple(body.disallowed_tools) or None,
        max_turns=_none(body.max_turns),
        system_prompt=_none(body.system_prompt),
        system_prompt_mode=_none(body.system_prompt_mode),
        extra_flags=check_extra_flags(backend, extra),
        tags=(*server.config.session.default_tags, "api", *getattr(body, "tags", ())),
        metadata=metadata,
        timeout=_none(body.timeout),
    )


def _continuation(server: ServerState, principal: Principal, body: PromptRequest) -> Any:
    """The session ``continue_session`` continues (``None``: start a new one)."""
    roots = principal.policy.workdir_roots if principal.policy is not None else ()
    workdir = server.workdirs.check(_none(body.workdir), roots=roots)
    backend = body.backend or None
    if body.continue_session == "auto":
        backend = backend or server.config.default_backend
    return server.store().latest_resumable(
        backend=backend,
        workdir=workdir or os.path.realpath(os.getcwd()),
        owner=principal.owner,
    )


async def _dry_run(
    server: ServerState,
    spec: RunSpec,
    principal: Principal,
    body: PromptRequest,
    continued: Any,
) -> PromptResponse | DryRunCommand:
    from clinvoker import api

    prepared: Any = api.prepare(
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
        timeout=spec.timeout,
        extra_flags=spec.extra_flags,
        tags=spec.tags,
        metadata=spec.metadata,
        owner=principal.owner,
        config=run_config(server.config, principal),
        store=server.store(),
        host=server.host,
    )
    command = prepared.command
    if body.wire_format == "clinvk":
        return DryRunCommand(
            backend=spec.backend,
            command=list(command.argv),
            shell=command.shell_line(),
            cwd=command.cwd or prepared.request.workdir,
            env=sorted(command.env),
            continue_session=getattr(continued, "id", None),
        )
    session = getattr(prepared, "session", None)
    return PromptResponse(
        backend=spec.backend,
        exit_code=0,
        duration_ms=0,
        session_id=getattr(session, "id", None),
        output=f"Would execute: {command.shell_line()}",
        model=spec.model,
    )


async def _execute(
    request: Request,
    server: ServerState,
    principal: Principal,
    spec: RunSpec,
    body: PromptRequest | ResumeRequest,
    continued: Any = None,
) -> Response | StreamResponse:
    run = await server.runs.start(spec, principal, request_id=request_id_of(request))
    if body.wire_format == "clinvk":
        native: list[bytes] | None = None
        if body.native:
            native = []
            run.handle.on_native_line = native.append
        headers = {"x-clinvk-backend": spec.backend}
        if run.session_id:
            headers["x-clinvk-session"] = run.session_id
        if continued is not None:
            headers["x-clinvk-continued"] = continued.last_used.isoformat()
        return StreamResponse(
            clinvk_frames(run.events(), native),
            media_type="application/x-ndjson",
            keepalive=server.keepalive,
            keepalive_frame=b"\n",
            headers=headers,
            on_close=run.close,
        )
    output_format = body.output_format
    sse = "text/event-stream" in request.headers.get("accept", "")
    if sse or output_format == "stream-json":
        frames = native_frames(
            run.events(), backend=spec.backend, session_id=run.session_id, sse=sse
        )
        return StreamResponse(
            frames,
            media_type="text/event-stream" if sse else "application/x-ndjson",
            keepalive=server.keepalive if sse else 0.0,
            keepalive_frame=KEEPALIVE_COMMENT,
            on_close=run.close,
        )
    result = await until_disconnect(request, run.collect())
    return json_response(prompt_response(result, run.session_id))


async def prompt(request: Request) -> Response | StreamResponse:
    """``POST /api/v1/prompt``."""
    server, principal = server_of(request), principal_of(request)
    body = await read_json(request, PromptRequest, Family.NATIVE)
    resume = _none(body.session_id)
    backend = body.backend or server.config.default_backend
    continued = None
    if body.continue_session:
        if resume is not None or body.ephemeral:
            other = "session_id" if resume is not None else "ephemeral"
            raise invalid_field(
                f"continue_session and {other} contradict each other; send one",
                "continue_session",
                cls=ValidationError,
            )
        continued = await asyncio.to_thread(_continuation, server, principal, body)
        resume = continued.id if continued is not None else None
    if resume is not None:
        session = await asyncio.to_thread(server.store().get, resume, principal.owner)
        if body.backend and body.backend != session.backend:
            raise invalid_field(
                f"session {session.id} belongs to backend {session.backend!r}, not {body.backend!r}",
                "backend",
                cls=ValidationError,
            )
        backend, resume, session_workdir = session.backend, session.id, session.working_dir or None
    else:
        session_workdir = None
    spec = run_spec(
        server,
        principal,
        body,
        backend,
        resume=resume,
        ephemeral=body.ephemeral,
        session_workdir=session_workdir,
    )
    if body.dry_run:
        return json_response(await _dry_run(server, spec, principal, body, continued))
    return await _execute(request, server, principal, spec, body, continued)


async def resume(request: Request) -> Response | StreamResponse:
    """``POST /api/v1/sessions/{id}/resume``."""
    server, principal = server_of(request), principal_of(request)
    body = await read_json(request, ResumeRequest, Family.NATIVE)
    session = await asyncio.to_thread(
        server.store().get, request.path_params["id"], principal.owner
    )
    spec = run_spec(
        server,
        principal,
        body,
        session.backend,
        resume=session.id,
        session_workdir=session.working_dir or None,
    )
    return await _execute(request, server, principal, spec, body)


async def backends(request: Request) -> Response:
    """``GET /api/v1/backends``."""
    server = server_of(request)
    items = []
    for name, backend in server.host.backends.items():
        path = server.availability.executable(backend)
        items.append(
            BackendInfo(
                name=name,
                available=path is not None,
                display_name=backend.display_name or None,
                executable=path,
                default_model=backend.default_model,
                models=list(backend.models),
            )
        )
    return json_response(BackendList(backends=items))


def _session_info(session: Any) -> SessionInfo:
    return SessionInfo(
        id=session.id,
        backend=session.backend,
        created_at=session.created_at,
        last_used=session.last_used,
        working_dir=session.working_dir or None,
        model=session.model,
        initial_prompt=session.initial_prompt,
        status=session.status,
        turn_count=session.turn_count,
        token_usage=token_usage(session.token_usage),
        tags=list(session.tags),
        title=session.title,
        cost_usd=session.cost_usd,
        resumable=bool(session.backend_session_id),
    )


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "0") or "0"
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise invalid_field(
            f"query parameter {name}={raw!r} must be a non-negative integer",
            name,
            cls=ValidationError,
        )
    return value


def _since(request: Request) -> datetime | None:
    raw = request.query_params.get("since")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_field(
            f"query parameter since={raw!r} is not an ISO 8601 time", "since", cls=ValidationError
        ) from None


async def list_sessions(request: Request) -> Response:
    """``GET /api/v1/sessions?backend=&status=&workdir=&model=&tag=&since=&limit=&offset=``."""
    server, principal = server_of(request), principal_of(request)
    q = request.query_params
    limit, offset = _int_param(request, "limit"), _int_param(request, "offset")
    since = _since(request)

    def query() -> tuple[list[Any], int]:
        return server.store().list(
            backend=q.get("backend") or None,
            status=q.get("status") or None,
            workdir=q.get("workdir") or None,
            model=q.get("model") or None,
            tag=q.get("tag") or None,
            since=since,
            owner=principal.owner,
            limit=limit or None,
            offset=offset,
        )

    sessions, total = await asyncio.to_thread(query)
    body = SessionList(
        sessions=[_session_info(s) for s in sessions], total=total, limit=limit, offset=offset
    )
    return json_response(body)


async def get_session(request: Request) -> Response:
    """``GET /api/v1/sessions/{id}`` (full id or unique prefix)."""
    server, principal = server_of(request), principal_of(request)
    session = await asyncio.to_thread(
        server.store().get, request.path_params["id"], principal.owner
    )
    return json_response(_session_info(session))


async def delete_session(request: Request) -> Response:
    """``DELETE /api/v1/sessions/{id}``."""
    server, principal = server_of(request), principal_of(request)
    principal.check_delete()
    deleted = await asyncio.to_thread(
        server.store().delete, request.path_params["id"], principal.owner
    )
    return json_response(DeleteResponse(deleted=True, id=deleted))
