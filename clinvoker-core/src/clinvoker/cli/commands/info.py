"""``clinvk version``, ``backends``, ``completion`` and ``help``."""

from __future__ import annotations

import click

from clinvoker.cli.exitcodes import OK, exit_codes_text

__all__ = ["backends", "completion", "help_command", "version"]


@click.command(
    short_help="Print the clinvk version.",
    epilog="\b\nExample:\n  clinvk version",
)
def version() -> int:
    """Print the clinvk version, the commit it was built from and when."""
    from clinvoker.cli.buildinfo import version_text

    click.echo(version_text(), nl=False)
    return OK


@click.command(
    short_help="List the backends and whether their CLIs are installed.",
    epilog="\b\nExamples:\n  clinvk backends\n  clinvk backends --json",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {backends: [...], plugin_failures: [...]} as JSON.",
)
@click.pass_context
def backends(ctx: click.Context, as_json: bool) -> int:
    """List every backend: installed or not, the CLI's path and version, and plugin failures.

    A version outside the range the backend was tested with gets a warning; a plugin that failed
    to load is listed with its error.
    """
    from clinvoker.cli.backends_view import print_backends
    from clinvoker.cli.state import get_state

    return print_backends(get_state(ctx), as_json=as_json)


@click.command(
    short_help="Print a shell completion script.",
    epilog=(
        "\b\nExamples:\n"
        '  eval "$(clinvk completion bash)"          # in ~/.bashrc\n'
        '  eval "$(clinvk completion zsh)"           # in ~/.zshrc\n'
        "  clinvk completion fish > ~/.config/fish/completions/clinvk.fish"
    ),
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> int:
    """Print the completion script for SHELL (bash, zsh or fish)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    root = ctx.find_root().command
    script = cls(root, {}, "clinvk", "_CLINVK_COMPLETE").source()
    click.echo(script)
    return OK


TOPICS = {
    "exit-codes": "Exit codes of clinvk:\n\n" + exit_codes_text(),
}


@click.command(
    "help",
    short_help="Show help for a command or a topic (exit-codes).",
    epilog="\b\nExamples:\n  clinvk help sessions\n  clinvk help exit-codes",
)
@click.argument("topic", nargs=-1)
@click.pass_context
def help_command(ctx: click.Context, topic: tuple[str, ...]) -> int:
    """Show the help of a command (``clinvk help sessions list``) or a topic (``exit-codes``)."""
    root = ctx.find_root()
    if len(topic) == 1 and topic[0] in TOPICS:
        click.echo(TOPICS[topic[0]])
        return OK
    command: click.Command = root.command
    info_name = root.info_name or "clinvk"
    parent = root
    for word in topic:
        if not isinstance(command, click.Group):
            raise click.UsageError(f"{info_name} has no subcommand {word!r}")
        sub = command.get_command(parent, word)
        if sub is None:
            topics = ", ".join(TOPICS)
            raise click.UsageError(
                f"no command or help topic {word!r} (topics: {topics}; "
                f"commands: {', '.join(command.list_commands(parent))})"
            )
        parent = click.Context(sub, info_name=word, parent=parent)
        command, info_name = sub, word
    click.echo(command.get_help(parent))
    return OK
