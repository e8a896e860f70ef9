"""The ``clinvoker`` entry point of the server package: adds ``clinvk serve``.

Kept light on purpose: every ``clinvk`` process imports it when it loads its plugins (a plain
``clinvk "prompt"`` too, to find session-store plugins), so not even click is imported here;
the command lives in :mod:`clinvoker_server.command`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinvoker.hookspecs import hookimpl

if TYPE_CHECKING:
    import click

__all__ = ["clinvoker_register_commands"]


@hookimpl
def clinvoker_register_commands(cli: click.Group) -> None:
    """Add ``serve`` to ``clinvk``."""
    from clinvoker_server.command import serve_command

    cli.add_command(serve_command)
