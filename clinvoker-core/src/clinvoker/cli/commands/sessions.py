"""``clinvk sessions list | show | delete | clean``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from clinvoker.cli.exitcodes import OK

if TYPE_CHECKING:
    from clinvoker.sessions import Session

__all__ = ["sessions"]

STATUSES = ("active", "completed", "error")


@click.group(
    short_help="List, show, delete and clean saved sessions.",
    epilog="\b\nExamples:\n  clinvk sessions list -n 10\n  clinvk sessions show 3f2a\n  clinvk sessions clean --older-than 30d",
)
def sessions() -> None:
    """Manage saved sessions (one per conversation; resume them with `clinvk resume`)."""


@sessions.command(
    "list",
    short_help="List sessions, newest first.",
    epilog="\b\nExamples:\n  clinvk sessions list\n  clinvk sessions list -b claude --status error --since 2d --json",
)
@click.option("--status", type=click.Choice(STATUSES), help="Only sessions with this status.")
@click.option("--workdir", "filter_workdir", metavar="DIR", help="Only sessions run in DIR.")
@click.option(
    "--since", metavar="AGE|DATE", help="Only sessions used since then (2d, 12h, 2026-01-31)."
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="At most N sessions (0 = all).",
)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Skip the first N sessions.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {sessions: [...], total: N} as JSON.")
@click.pass_context
def list_sessions(
    ctx: click.Context,
    status: str | None,
    filter_workdir: str | None,
    since: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> int:
    """List sessions, newest first (filter with -b, --status, --workdir, --since)."""
    from pathlib import Path

    from clinvoker.cli.state import get_state
    from clinvoker.cli.tables import format_table, parse_since, time_ago, truncate

    state = get_state(ctx)
    since_at = None
    if since is not None:
        try:
            since_at = parse_since(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None
    found, total = state.client.list_sessions(
        backend=state.flags.backend,
        status=status,
        workdir=str(Path(filter_workdir).expanduser().resolve()) if filter_workdir else None,
        since=since_at,
        limit=limit or None,
        offset=offset,
    )
    for problem in state.client.session_problems():
        click.echo(f"Warning: skipped session file {problem}", err=True)
    if state.wants_json(as_json):
        from clinvoker.cli.render import dumps

        click.echo(
            dumps(
                {
                    "sessions": [session_object(s) for s in found],
                    "total": total,
                    "limit": limit,
                    "offset": offset,
                }
            )
        )
        return OK
    if not found:
        click.echo("No sessions found.")
        return OK
    rows = [
        [
            s.id[:8],
            s.backend,
            s.status or "unknown",
            time_ago(s.last_used),
            _tokens(s),
            truncate(s.display_name, 40),
        ]
        for s in found
    ]
    click.echo(
        format_table(["ID", "BACKEND", "STATUS", "LAST USED", "TOKENS", "TITLE/PROMPT"], rows)
    )
    if total > offset + len(found):
        click.echo(f"({len(found)} of {total} shown; use --limit/--offset for more)")
    return OK


@sessions.command(
    "show",
    short_help="Show one session.",
    epilog="\b\nExamples:\n  clinvk sessions show 3f2a\n  clinvk sessions show 3f2a --json",
)
@click.argument("session_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_context
def show(ctx: click.Context, session_id: str, as_json: bool) -> int:
    """Show the session ID (a unique prefix is enough)."""
    from clinvoker.cli.state import get_state

    state = get_state(ctx)
    session = state.client.get_session(session_id)
    if state.wants_json(as_json):
        from clinvoker.cli.render import dumps

        click.echo(dumps(session_object(session)))
        return OK
    for label, value in _show_lines(session):
        click.echo(f"{label + ':':<19} {value}".rstrip())
    return OK


@sessions.command(
    "delete",
    short_help="Delete one session.",
    epilog="\b\nExample:\n  clinvk sessions delete 3f2a",
)
@click.argument("session_id", metavar="ID")
@click.pass_context
def delete(ctx: click.Context, session_id: str) -> int:
    """Delete the session ID (a unique prefix is enough)."""
    from clinvoker.cli.state import get_state

    full_id = get_state(ctx).client.delete_session(session_id)
    click.echo(f"Session {full_id} deleted.")
    return OK


@sessions.command(
    "clean",
    short_help="Delete old sessions.",
    epilog=(
        "\b\nExamples:\n"
        "  clinvk sessions clean                    # uses session.retention_days\n"
        "  clinvk sessions clean --older-than 7d\n"
        "  clinvk sessions clean --keep 100         # keep only the newest 100"
    ),
)
@click.option(
    "--older-than",
    metavar="Nd",
    help="Delete sessions not used for N days (default: session.retention_days).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    metavar="N",
    help="Keep at most N sessions, the newest (default: session.max_sessions).",
)
@click.pass_context
def clean(ctx: click.Context, older_than: str | None, keep: int | None) -> int:
    """Delete sessions older than --older-than days and/or beyond the newest --keep.

    0 or unset means "no limit": with retention_days 0, max_sessions 0 and no flags nothing is
    deleted.
    """
    from clinvoker.cli.state import get_state
    from clinvoker.cli.tables import parse_age

    state = get_state(ctx)
    days: int | None = None
    if older_than is not None:
        try:
            days = int(parse_age(older_than).total_seconds() // 86400)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--older-than") from None
    days = days or state.config.session.retention_days or None
    keep = keep or state.config.session.max_sessions or None
    if days is None and keep is None:
        click.echo(
            "Nothing to do: no --older-than or --keep given and session.retention_days is 0 "
            "(keep forever)."
        )
        return OK
    removed = state.client.prune_sessions(older_than_days=days, keep=keep)
    rules = [f"older than {days} days" if days else "", f"beyond the newest {keep}" if keep else ""]
    click.echo(f"Deleted {removed} session(s) {' or '.join(r for r in rules if r)}.")
    return OK


def session_object(session: Session) -> dict[str, Any]:
    """A session as the JSON object ``--json`` prints (the stored fields)."""
    import msgspec

    data = msgspec.to_builtins(session)
    assert isinstance(data, dict)
    return data


def _tokens(session: Session) -> str:
    total = session.token_usage.total_tokens
    return str(total) if total else "-"


def _show_lines(session: Session) -> list[tuple[str, str]]:
    from clinvoker.cli.tables import time_ago, truncate

    lines = [
        ("ID", session.id),
        ("Backend", session.backend),
        ("Model", session.model or ""),
        ("Status", session.status or "unknown"),
        ("Created", session.created_at.isoformat()),
        ("Last Used", f"{session.last_used.isoformat()} ({time_ago(session.last_used)})"),
        ("Working Directory", session.working_dir or ""),
        ("Backend Session", session.backend_session_id or ""),
        ("Title", session.title or ""),
        ("Initial Prompt", truncate(session.initial_prompt or "", 80)),
        ("Turns", str(session.turn_count)),
    ]
    usage = session.token_usage
    parts = [f"input {usage.input_tokens}", f"output {usage.output_tokens}"]
    if usage.cached_tokens:
        parts.append(f"cached {usage.cached_tokens}")
    if usage.reasoning_tokens:
        parts.append(f"reasoning {usage.reasoning_tokens}")
    parts.append(f"total {usage.total_tokens}")
    lines.append(("Token Usage", ", ".join(parts)))
    if session.cost_usd:
        lines.append(("Cost", f"${session.cost_usd:.4f}"))
    if session.tags:
        lines.append(("Tags", ", ".join(session.tags)))
    if session.parent_id:
        lines.append(("Parent Session", session.parent_id))
    if session.error_message:
        lines.append(("Error", session.error_message))
    shown = [(label, value) for label, value in lines if value]
    if session.metadata:
        shown.append(("Metadata", ""))
        shown.extend((f"  {key}", str(value)) for key, value in session.metadata.items())
    return shown
