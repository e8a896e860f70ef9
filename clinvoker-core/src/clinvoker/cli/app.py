"""``clinvk``: the root command, lazy subcommands and plugin commands.

Only click is imported here. Each built-in subcommand lives in ``clinvoker.cli.commands.*`` and is
imported the first time it is needed; the library (runs, sessions, config) is imported inside the
callbacks. Plugins add commands through ``clinvoker_register_commands`` (``serve`` comes from
clinvoker-server); those are loaded only when the command name is not a built-in one, or when
the list of commands is shown.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from clinvoker.cli.exitcodes import report
from clinvoker.cli.options import add_global_options, run_options

__all__ = ["RootGroup", "cli", "plugin_commands"]

_PROMPT_ARGS = "clinvk.prompt_args"
_PLUGIN_COMMANDS = "clinvk.plugin_commands"
_AFTER_DASHES = "clinvk.after_dashes"

_BUILTINS: dict[str, str] = {
    "backends": "clinvoker.cli.commands.info:backends",
    "chain": "clinvoker.cli.commands.orchestrate:chain",
    "compare": "clinvoker.cli.commands.orchestrate:compare",
    "completion": "clinvoker.cli.commands.info:completion",
    "config": "clinvoker.cli.commands.config:config",
    "help": "clinvoker.cli.commands.info:help_command",
    "parallel": "clinvoker.cli.commands.orchestrate:parallel",
    "resume": "clinvoker.cli.commands.resume:resume",
    "sessions": "clinvoker.cli.commands.sessions:sessions",
    "version": "clinvoker.cli.commands.info:version",
}

ROOT_HELP = """Run a prompt on an AI coding CLI (Claude Code, Codex, Gemini) through one interface.

\b
  clinvk "explain this repository"              # default backend, JSON result
  clinvk -b codex -o text "fix the failing test"
  git diff | clinvk -b gemini -o text           # the prompt can come from stdin
  clinvk resume --last "and now add tests"

\b
Conversations are saved as sessions. With session.auto_resume (the default),
a prompt continues the newest resumable session of the SAME backend in the
SAME working directory (a note on stderr says so); --new starts a fresh one,
--ephemeral saves nothing, -c continues explicitly.
A prompt that is also a command name goes after --: clinvk -- version
"""

ROOT_EPILOG = """\b
Exit codes: 0 ok, 1 error, 2 usage, 3 config, 4 backend CLI missing,
5 session, 124 timeout, 130 interrupted; prompt/resume pass the backend's own
non-zero exit code through. Details: clinvk help exit-codes
"""


class RootGroup(click.Group):
    """A group whose first positional argument is either a command or the prompt."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, click.Command] = {}

    # -- commands ----------------------------------------------------------------------------

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _BUILTINS:
            return self._builtin(cmd_name)
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return plugin_commands(ctx).get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(_BUILTINS) | set(self.commands) | set(plugin_commands(ctx)))

    def _builtin(self, name: str) -> click.Command:
        cmd = self._loaded.get(name)
        if cmd is None:
            module, _, attr = _BUILTINS[name].partition(":")
            cmd = getattr(importlib.import_module(module), attr)
            assert isinstance(cmd, click.Command)
            add_global_options(cmd)
            self._loaded[name] = cmd
        return cmd

    # -- the prompt as first argument ---------------------------------------------------------

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:  # `clinvk -- version` sends the prompt "version"
            ctx.meta[_AFTER_DASHES] = args[args.index("--") + 1 :]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        args = [*ctx._protected_args, *ctx.args]
        forced = args and args == ctx.meta.get(_AFTER_DASHES)
        if args and (forced or self.get_command(ctx, args[0]) is None):
            ctx.meta[_PROMPT_ARGS] = args
            ctx._protected_args = []
            ctx.args = []
        return super().invoke(ctx)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPTIONS]", "[PROMPT] | COMMAND [ARGS]..."]

    # -- entry point -----------------------------------------------------------------------------

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run ``clinvk``; every error is mapped to a message and an exit code in :func:`report`."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            rv = super().main(
                argv,
                prog_name=prog_name or "clinvk",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = rv if isinstance(rv, int) else 0
        except BaseException as exc:
            code = report(exc, debug=_wants_debug(argv))
        if standalone_mode:
            sys.exit(code)
        return code


def plugin_commands(ctx: click.Context) -> dict[str, click.Command]:
    """Commands added by plugins (``clinvoker_register_commands``), collected once per invocation.

    A plugin cannot replace a built-in command; a plugin that fails is listed by ``clinvk backends``.
    """
    root = ctx.find_root()
    found = root.meta.get(_PLUGIN_COMMANDS)
    if found is None:
        from clinvoker.plugins import get_host

        collector = click.Group("clinvk")
        get_host().register_commands(collector)
        found = {}
        for name, command in collector.commands.items():
            if name not in _BUILTINS:
                add_global_options(command)
                found[name] = command
        root.meta[_PLUGIN_COMMANDS] = found
    assert isinstance(found, dict)
    return found


def _wants_debug(argv: Sequence[str]) -> bool:
    import os

    if os.environ.get("CLINVK_DEBUG", "").lower() in ("1", "true", "yes"):
        return True
    head = list(argv[: argv.index("--")]) if "--" in argv else list(argv)
    return "--debug" in head


@click.group(
    "clinvk",
    cls=RootGroup,
    invoke_without_command=True,
    help=ROOT_HELP,
    epilog=ROOT_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-c",
    "--continue",
    "continue_",
    is_flag=True,
    help="Continue the newest resumable session in this directory (any backend unless -b).",
)
@click.option(
    "--new",
    is_flag=True,
    help="Start a new conversation even if session.auto_resume would continue one.",
)
@run_options
@click.pass_context
def cli(ctx: click.Context, /, **options: Any) -> int | None:
    """The root command: run ``PROMPT`` unless a subcommand was given."""
    if ctx.invoked_subcommand is not None:
        return None
    from clinvoker.cli.prompt import run_root

    return run_root(ctx, list(ctx.meta.pop(_PROMPT_ARGS, [])), options)


add_global_options(cli, hidden=False)
