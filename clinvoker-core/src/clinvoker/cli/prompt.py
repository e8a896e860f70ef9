"""One prompt from the command line: read it, pick the session, run it, render it.

Shared by the root command (``clinvk PROMPT``) and ``clinvk resume``. The decisions here are
about the command line only (where the prompt comes from, which flags conflict, what to print);
running, session bookkeeping and option merging happen in the library behind the client.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Any

import click

from clinvoker.cli.aio import run_async
from clinvoker.cli.client import DryRun, PromptRequest, absolute_workdir
from clinvoker.cli.exitcodes import OK
from clinvoker.cli.options import split_list
from clinvoker.cli.running import drive, pick_output_format, result_exit_code
from clinvoker.cli.state import CliState, get_state
from clinvoker.cli.tables import time_ago

if TYPE_CHECKING:
    from clinvoker.sessions import Session

__all__ = ["build_request", "execute", "read_prompt", "result_exit_code", "run_root"]


def run_root(ctx: click.Context, args: list[str], options: dict[str, Any]) -> int:
    """``clinvk [flags] PROMPT``."""
    state = get_state(ctx)
    if len(args) > 1:
        raise click.UsageError(
            f"expected one PROMPT argument, got {len(args)}: quote the prompt, "
            f'e.g. clinvk "{" ".join(args)}"',
            ctx,
        )
    if options["new"] and options["continue_"]:
        raise click.UsageError("--new and -c/--continue contradict each other; use one", ctx)
    if options["continue_"] and state.flags.ephemeral:
        raise click.UsageError(
            "-c/--continue resumes a saved session but --ephemeral saves nothing; use one", ctx
        )
    prompt = read_prompt(state, args[0] if args else None)
    if prompt is None:
        click.echo(ctx.get_help())
        return OK
    request = build_request(state, prompt, options)
    if state.client.remote:
        return execute(
            state, _server_continuation(state, request, options), native=options["native"]
        )
    session = _continuation(state, request, options)
    if session is not None:
        request = dataclasses.replace(request, resume=session.id, backend=session.backend)
        state.note(
            f"continuing session {session.id[:8]} ({session.backend}) "
            f"from {time_ago(session.last_used)}; use --new to start fresh"
        )
    return execute(state, request, native=options["native"], continuing=session)


def read_prompt(state: CliState, arg: str | None) -> str | None:
    """The prompt: the argument, else stdin when it is not a terminal; ``None`` = show help."""
    if arg is not None:
        if not arg.strip():
            raise click.UsageError("the prompt is empty")
        return arg
    if state.stdin_is_tty():
        return None
    text = sys.stdin.read()
    if not text.strip():
        raise click.UsageError("no prompt: pass PROMPT as an argument or pipe it on stdin")
    return text


def build_request(state: CliState, prompt: str, options: dict[str, Any]) -> PromptRequest:
    """A :class:`PromptRequest` from the global flags and the run flags."""
    flags = state.flags
    system_prompt, mode = options.get("system_prompt"), None
    append = options.get("append_system_prompt")
    if system_prompt is not None and append is not None:
        raise click.UsageError("use either --system-prompt or --append-system-prompt, not both")
    if append is not None:
        system_prompt, mode = append, "append"
    elif system_prompt is not None:
        mode = "replace"
    allowed = split_list(options.get("allowed_tools") or ())
    disallowed = split_list(options.get("disallowed_tools") or ())
    return PromptRequest(
        prompt=prompt,
        backend=flags.backend,
        model=flags.model,
        workdir=flags.workdir,
        ephemeral=flags.ephemeral,
        approval_mode=options.get("approval_mode"),
        sandbox_mode=options.get("sandbox_mode"),
        allowed_tools=allowed or None,
        disallowed_tools=disallowed or None,
        max_turns=options.get("max_turns"),
        system_prompt=system_prompt,
        system_prompt_mode=mode,
        timeout=options.get("timeout"),
        add_dirs=tuple(options.get("add_dirs") or ()),
    )


def _continuation(
    state: CliState, request: PromptRequest, options: dict[str, Any]
) -> Session | None:
    """The session this prompt continues (``-c`` or scoped auto-resume), or ``None``."""
    if request.ephemeral or options["new"]:
        return None
    workdir = absolute_workdir(request.workdir)
    if options["continue_"]:
        session = state.client.latest_session(backend=request.backend, workdir=workdir)
        if session is None:
            state.note(f"no resumable session in {workdir}; starting a new one")
        return session
    if not state.config.session.auto_resume:
        return None
    return state.client.find_continuation(backend=request.backend, workdir=workdir)


def _server_continuation(
    state: CliState, request: PromptRequest, options: dict[str, Any]
) -> PromptRequest:
    """With ``--server`` the server picks the session to continue (it knows its directories)."""
    if request.ephemeral or options["new"]:
        return request
    if options["continue_"]:
        return dataclasses.replace(request, continue_mode="last")
    if state.config.session.auto_resume:
        return dataclasses.replace(request, continue_mode="auto")
    return request


def output_format(state: CliState) -> str:
    """``-o`` if given (and not ``default``), else config ``output.format``, else ``json``."""
    return pick_output_format(state.flags.output_format, state.config.output.format)


def execute(
    state: CliState,
    request: PromptRequest,
    *,
    native: bool = False,
    continuing: Session | None = None,
) -> int:
    """Run ``request`` (or show it with ``--dry-run``), render it, and return the exit code."""
    fmt = output_format(state)
    if native and fmt != "stream-json":
        if state.flags.output_format not in (None, "default"):
            raise click.UsageError("--native only applies to -o stream-json")
        fmt = "stream-json"
    if state.flags.dry_run or state.config.unified_flags.dry_run:
        plan = state.client.dry_run(request)
        if continuing is not None:
            plan = dataclasses.replace(
                plan, continue_session=continuing.id, continue_backend=continuing.backend
            )
        _print_dry_run(plan, fmt)
        return OK
    if native:
        request = dataclasses.replace(request, native=True)
    handle = state.client.start(request)
    for line in state.client.describe(handle, request):
        state.verbose(line)
    from clinvoker.cli.render import make_renderer

    renderer = make_renderer(
        fmt,
        out=state.out,
        err=state.err,
        backend=handle.backend.name,
        native=native,
        show_tokens=state.config.output.show_tokens,
        show_timing=state.config.output.show_timing,
    )
    result = run_async(lambda: drive(handle, renderer, native=native))
    state.verbose(
        f"{result.backend} exited with {result.exit_code} after {result.duration_s:.2f}s"
        + (f"; clinvk session {result.clinvk_session_id}" if result.clinvk_session_id else "")
    )
    return result_exit_code(result)


def _print_dry_run(plan: DryRun, fmt: str) -> None:
    if fmt == "json":
        from clinvoker.cli.render import dumps

        obj = {
            "dry_run": True,
            "backend": plan.backend,
            "command": plan.argv,
            "shell": plan.shell,
            "cwd": plan.cwd,
            "env": plan.env,
            "continue_session": plan.continue_session,
            "stdin_bytes": plan.stdin_bytes,
        }
        click.echo(dumps(obj))
        return
    if plan.continue_session is not None:
        click.echo(f"Would continue session {plan.continue_session[:8]} ({plan.continue_backend})")
    click.echo(f"Would execute: {plan.shell}")
    click.echo(f"  cwd: {plan.cwd}")
    if plan.stdin_bytes is not None:
        click.echo(f"  stdin: the prompt ({plan.stdin_bytes} bytes)")
