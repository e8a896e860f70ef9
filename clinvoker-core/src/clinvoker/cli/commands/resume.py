"""``clinvk resume``: continue a saved conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from clinvoker.cli.options import run_options

if TYPE_CHECKING:
    from clinvoker.cli.state import CliState
    from clinvoker.sessions import Session

__all__ = ["resume"]

_PICKER_ROWS = 20


@click.command(
    short_help="Continue a saved session with a new prompt.",
    epilog=(
        "\b\nExamples:\n"
        '  clinvk resume 3f2a "now add tests"       # by id prefix\n'
        '  clinvk resume --last "continue"          # newest resumable session\n'
        '  clinvk resume --last --here -b codex "go on"\n'
        "  clinvk resume -i                         # pick from a numbered list"
    ),
)
@click.argument("args", nargs=-1, metavar="[ID|PREFIX] [PROMPT]")
@click.option(
    "--last", is_flag=True, help="The newest resumable session (first argument is the prompt)."
)
@click.option(
    "--here", is_flag=True, help="Only sessions whose working directory is this one (or -w)."
)
@click.option("-i", "--interactive", is_flag=True, help="Pick the session from a numbered list.")
@run_options
@click.pass_context
def resume(
    ctx: click.Context,
    /,
    args: tuple[str, ...],
    last: bool,
    here: bool,
    interactive: bool,
    **options: Any,
) -> int:
    """Send PROMPT to an existing session, found by ID or unique id PREFIX.

    With --last, the newest session that can be resumed (filtered by -b and --here);
    with -i (or no arguments on a terminal), a numbered list to pick from. The prompt can
    also come from stdin. Run flags (--timeout, --approval-mode...) apply to this turn.
    """
    from clinvoker.cli.client import absolute_workdir
    from clinvoker.cli.prompt import build_request, execute, read_prompt
    from clinvoker.cli.state import get_state
    from clinvoker.errors import SessionError

    state = get_state(ctx)
    if last and interactive:
        raise click.UsageError("use either --last or -i/--interactive", ctx)
    if state.flags.ephemeral:
        raise click.UsageError("resume continues a saved session; --ephemeral saves nothing", ctx)
    rest = list(args)
    workdir = absolute_workdir(state.flags.workdir) if here else None
    if last:
        session = state.client.latest_session(backend=state.flags.backend, workdir=workdir)
        if session is None:
            raise SessionError(
                "no resumable session found" + _filters(state.flags.backend, workdir),
                hint="list them with `clinvk sessions list`",
            )
    elif interactive or not rest:
        if not state.stdin_is_tty():
            raise click.UsageError(
                "give a session ID or --last (the -i picker needs a terminal)", ctx
            )
        session = _pick(state, workdir)
    else:
        session = state.client.get_session(rest.pop(0))
    if len(rest) > 1:
        raise click.UsageError(f"expected at most one PROMPT, got {len(rest)}: quote it", ctx)
    prompt = read_prompt(state, rest[0] if rest else None)
    if prompt is None:
        prompt = click.prompt("Prompt", err=True)
    request = build_request(state, prompt, options)
    request = _for_session(request, session)
    return execute(state, request, native=options["native"])


def _for_session(request: Any, session: Session) -> Any:
    import dataclasses

    return dataclasses.replace(request, resume=session.id, backend=None)


def _filters(backend: str | None, workdir: str | None) -> str:
    parts = [f"backend {backend}" if backend else "", f"in {workdir}" if workdir else ""]
    text = ", ".join(p for p in parts if p)
    return f" ({text})" if text else ""


def _pick(state: CliState, workdir: str | None) -> Session:
    """Show a numbered list of sessions and read the user's choice."""
    from clinvoker.cli.tables import format_table, time_ago, truncate
    from clinvoker.errors import Cancelled, SessionNotFound

    sessions, total = state.client.list_sessions(
        backend=state.flags.backend, workdir=workdir, limit=_PICKER_ROWS
    )
    if not sessions:
        raise SessionNotFound(
            "no sessions found" + _filters(state.flags.backend, workdir),
            hint="start one with `clinvk PROMPT`",
        )
    rows = [
        [
            str(i),
            s.id[:8],
            s.backend,
            time_ago(s.last_used),
            truncate(s.title or s.initial_prompt or "", 50),
        ]
        for i, s in enumerate(sessions, 1)
    ]
    click.echo("Available sessions:", err=True)
    click.echo(format_table(["#", "ID", "BACKEND", "LAST USED", "TITLE/PROMPT"], rows), err=True)
    if total > len(sessions):
        click.echo(f"... and {total - len(sessions)} more sessions", err=True)
    answer = click.prompt(
        "Enter session number (or q to quit)", default="q", show_default=False, err=True
    )
    answer = answer.strip().lower()
    if answer in ("", "q", "quit"):
        raise Cancelled("no session chosen")
    if not answer.isdigit() or not 1 <= int(answer) <= len(sessions):
        raise click.UsageError(f"invalid selection {answer!r}: enter 1 to {len(sessions)}")
    return sessions[int(answer) - 1]
