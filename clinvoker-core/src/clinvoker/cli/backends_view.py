"""What ``clinvk backends`` prints: every backend, whether its CLI is installed, and plugin failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from clinvoker.cli.exitcodes import OK

if TYPE_CHECKING:
    from clinvoker.availability import Availability
    from clinvoker.cli.state import CliState

__all__ = ["print_backends"]

BACKEND_PACKAGES = (
    "clinvoker-backend-claude",
    "clinvoker-backend-codex",
    "clinvoker-backend-gemini",
)


def print_backends(state: CliState, *, as_json: bool) -> int:
    """Check every registered backend and print the report (table or JSON)."""
    if state.remote:
        return _print_remote(state, as_json=as_json)
    from clinvoker.availability import check_backends_sync
    from clinvoker.plugins import get_host

    host = get_host()
    reports = check_backends_sync(host, state.config)
    failures = [{"name": f.name, "error": f.error} for f in host.failures]
    if state.wants_json(as_json):
        from clinvoker.cli.render import dumps

        click.echo(
            dumps({"backends": [_report_object(r) for r in reports], "plugin_failures": failures})
        )
        return OK
    if not reports:
        click.echo("No backends are installed.")
        click.echo(
            f"Install one with e.g. `pip install {BACKEND_PACKAGES[0]}` "
            f"(also: {', '.join(BACKEND_PACKAGES[1:])})."
        )
    else:
        from clinvoker.cli.tables import format_table

        rows = [_row(r) for r in reports]
        click.echo(format_table(["BACKEND", "INSTALLED", "VERSION", "PATH"], rows))
        notes = [line for r in reports for line in _notes(r)]
        if notes:
            click.echo("")
            for line in notes:
                click.echo(line)
        if not any(r.installed for r in reports):
            click.echo("")
            click.echo("None of their CLIs is installed; install one as shown above.")
    if failures:
        click.echo("")
        click.echo("Plugins that failed to load:")
        for failure in failures:
            click.echo(f"  {failure['name']}: {failure['error']}")
    return OK


def _row(report: Availability) -> list[str]:
    installed = "yes" if report.installed else "no"
    if report.installed and not report.enabled:
        installed = "disabled"
    return [report.backend, installed, report.version or "-", report.path or "-"]


def _notes(report: Availability) -> list[str]:
    name = report.backend
    if not report.installed:
        return [f"{name}: {report.error or 'not installed'}"]
    if report.tested is False:
        return [
            f"{name}: warning: version {report.version} was not tested "
            f"(tested: {report.tested_versions}); output parsing may break"
        ]
    if report.error:
        return [f"{name}: warning: {report.error}"]
    return []


def _report_object(report: Availability) -> dict[str, Any]:
    import msgspec

    data = msgspec.to_builtins(report)
    assert isinstance(data, dict)
    return data


def _print_remote(state: CliState, *, as_json: bool) -> int:
    """``clinvk --server URL backends``: what the server has."""
    from clinvoker.cli.remote import RemoteClient

    client = state.client
    assert isinstance(client, RemoteClient)
    infos = client.backends()
    if state.wants_json(as_json):
        from clinvoker.cli.render import dumps

        items = [
            {
                "backend": b.name,
                "installed": b.available,
                "path": b.executable,
                "default_model": b.default_model,
                "models": b.models,
            }
            for b in infos
        ]
        click.echo(dumps({"server": client.url, "backends": items, "plugin_failures": []}))
        return OK
    click.echo(f"Backends of the server at {client.url}:")
    if not infos:
        click.echo("None: the server has no backend installed.")
        return OK
    from clinvoker.cli.tables import format_table

    rows = [
        [b.name, "yes" if b.available else "no", b.default_model or "-", b.executable or "-"]
        for b in infos
    ]
    click.echo(format_table(["BACKEND", "INSTALLED", "DEFAULT MODEL", "PATH"], rows))
    return OK
