"""The flags of ``clinvk``: global flags (accepted before or after any subcommand) and run flags.

Global flags behave like the Go tool's persistent flags: ``clinvk -b codex sessions list`` and
``clinvk sessions list -b codex`` mean the same. They are not passed to callbacks; each one
records its explicit value in the root context, and commands read them with :func:`global_flags`.
This module imports only click, so ``clinvk --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from clinvoker.cli.running import OUTPUT_FORMATS
from clinvoker.modes import APPROVAL_MODES, SANDBOX_MODES

__all__ = [
    "APPROVAL_MODES",
    "OUTPUT_FORMATS",
    "SANDBOX_MODES",
    "GlobalFlags",
    "WorkdirType",
    "add_global_options",
    "global_flags",
    "run_options",
    "server_url",
    "split_list",
]

F = TypeVar("F", bound=Callable[..., Any])


_META_KEY = "clinvk.global_flags"


@dataclasses.dataclass
class GlobalFlags:
    """The global flags given on the command line (``None``/``False`` when not given)."""

    config: str | None = None
    backend: str | None = None
    model: str | None = None
    workdir: str | None = None
    output_format: str | None = None
    dry_run: bool = False
    ephemeral: bool = False
    verbose: bool = False
    debug: bool = False
    server: str | None = None
    api_key: str | None = None


def _record(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Store an explicitly given global flag on the root context (later occurrences win)."""
    name = param.name
    if name is None or value is None:
        return value
    source = ctx.get_parameter_source(name)
    if source in (ParameterSource.DEFAULT, None) and value in (False, ()):
        return value
    ctx.find_root().meta.setdefault(_META_KEY, {})[name] = value
    return value


def global_flags(ctx: click.Context | None = None) -> GlobalFlags:
    """The global flags of the current invocation."""
    ctx = ctx or click.get_current_context()
    return GlobalFlags(**ctx.find_root().meta.get(_META_KEY, {}))


def server_url(flags: GlobalFlags) -> str | None:
    """The server to run on: ``--server``, else ``$CLINVK_SERVER``; empty means here."""
    value = flags.server if flags.server is not None else os.environ.get("CLINVK_SERVER", "")
    return value.strip() or None


if TYPE_CHECKING:  # click 8.5 made ParamType generic; older versions cannot subscript it
    _ParamType = click.ParamType[str, Any]
else:
    _ParamType = click.ParamType


class WorkdirType(_ParamType):
    """``-w DIR``: an existing local directory, or with a server a path on the server.

    A server's directory need not exist here, so it is only made absolute (relative to the
    current directory); the server checks it. ``--server`` is eager, so it is known in time.
    """

    name = "directory"
    _local = click.Path(exists=True, file_okay=False, resolve_path=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if ctx is not None and server_url(global_flags(ctx)) is not None:
            return os.path.abspath(os.path.expanduser(str(value)))
        return self._local.convert(value, param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[Any]:
        return self._local.shell_complete(ctx, param, incomplete)


_GLOBAL_SPECS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--config", "config"),
        {
            "metavar": "FILE",
            "help": "Config file to use (default: $CLINVK_CONFIG, else config.yaml in the clinvk home).",
        },
    ),
    (
        ("-b", "--backend", "backend"),
        {"metavar": "NAME", "help": "Backend to use: claude, codex, gemini or a plugin's name."},
    ),
    (
        ("-m", "--model", "model"),
        {"metavar": "MODEL", "help": "Model name or alias (fast, balanced, best...)."},
    ),
    (
        ("-w", "--workdir", "workdir"),
        {
            "metavar": "DIR",
            "type": WorkdirType(),
            "help": "Working directory of the backend CLI (default: the current directory; "
            "with --server, a directory on the server, default the server's).",
        },
    ),
    (
        ("-o", "--output-format", "output_format"),
        {
            "type": click.Choice(OUTPUT_FORMATS, case_sensitive=False),
            "help": "Output: text, json or stream-json (default: config output.format, else json).",
        },
    ),
    (
        ("--dry-run", "dry_run"),
        {
            "is_flag": True,
            "default": None,
            "help": "Print the exact command line and its cwd instead of running it.",
        },
    ),
    (
        ("--ephemeral", "ephemeral"),
        {
            "is_flag": True,
            "default": None,
            "help": "Stateless run: no clinvk session, and the backend keeps no conversation.",
        },
    ),
    (
        ("-v", "--verbose", "verbose"),
        {
            "is_flag": True,
            "default": None,
            "help": "Explain what clinvk does on stderr (command line, session, timings).",
        },
    ),
    (
        ("--debug", "debug"),
        {"is_flag": True, "default": None, "help": "Show Python tracebacks for errors."},
    ),
    (
        ("--server", "server"),
        {
            "metavar": "URL",
            "is_eager": True,
            "help": "Run on the clinvoker server at URL (`clinvk serve`) instead of here "
            "(default: $CLINVK_SERVER; an empty URL means here).",
        },
    ),
    (
        ("--api-key", "api_key"),
        {
            "metavar": "KEY",
            "help": "API key for --server (default: $CLINVK_API_KEY, which is safer: "
            "command lines are visible to other users).",
        },
    ),
)


GLOBAL_NOTE = (
    "The global flags of `clinvk --help` (-b, -m, -w, --config, --dry-run...) work here too."
)


def _global_option_objects(
    taken: set[str], names: set[str], *, hidden: bool
) -> Iterator[click.Option]:
    for decls, attrs in _GLOBAL_SPECS:
        *opts, name = decls
        if name in names:
            continue
        free = [o for o in opts if o not in taken]
        if not free:
            continue
        yield click.Option(
            [*free, name], expose_value=False, callback=_record, hidden=hidden, **attrs
        )


def add_global_options(command: click.Command, *, hidden: bool = True) -> None:
    """Give ``command`` (and every subcommand of a group) the global flags it lacks.

    Every built-in and plugin command gets them, so ``clinvk sessions list -b codex`` and
    ``clinvk serve --config x.yaml`` work. They are hidden from subcommand help (the root help
    lists them). A flag whose option strings the command already uses (``parallel
    -o/--output-dir``) keeps only its free ones. Calling this twice changes nothing.
    """
    taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    names = {p.name for p in command.params if p.name}
    added = list(_global_option_objects(taken, names, hidden=hidden))
    command.params.extend(added)
    if added and hidden and not isinstance(command, click.Group):
        command.epilog = f"{command.epilog}\n\n{GLOBAL_NOTE}" if command.epilog else GLOBAL_NOTE
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_options(sub, hidden=hidden)


def split_list(values: tuple[str, ...]) -> tuple[str, ...]:
    """``("a,b", "c")`` -> ``("a", "b", "c")``: repeatable flags that also take comma lists."""
    return tuple(item.strip() for v in values for item in v.split(",") if item.strip())


def run_options(f: F) -> F:
    """Decorator: the flags that shape one run (root prompt and ``resume``)."""
    decorators = (
        click.option(
            "--approval-mode",
            type=click.Choice(APPROVAL_MODES, case_sensitive=False),
            help="default | auto (approve edits) | none (never ask, run everything) | always (ask for everything).",
        ),
        click.option(
            "--sandbox-mode",
            type=click.Choice(SANDBOX_MODES, case_sensitive=False),
            help="default | read-only | workspace (write inside the workdir) | full (no sandbox).",
        ),
        click.option(
            "--allowed-tools",
            multiple=True,
            metavar="TOOLS",
            help="Tools the agent may use without asking (comma list, repeatable).",
        ),
        click.option(
            "--disallowed-tools",
            multiple=True,
            metavar="TOOLS",
            help="Tools the agent must not use (comma list, repeatable).",
        ),
        click.option(
            "--max-turns", type=click.IntRange(min=1), metavar="N", help="Stop after N agent turns."
        ),
        click.option("--system-prompt", metavar="TEXT", help="Replace the system prompt."),
        click.option(
            "--append-system-prompt", metavar="TEXT", help="Append TEXT to the system prompt."
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Stop the backend after SECONDS (exit 124).",
        ),
        click.option(
            "--add-dir",
            "add_dirs",
            multiple=True,
            type=click.Path(exists=True, file_okay=False, resolve_path=True),
            metavar="DIR",
            help="Another directory the agent may access (repeatable).",
        ),
        click.option(
            "--native",
            is_flag=True,
            help="With -o stream-json: print the backend CLI's own JSON lines, not clinvk events.",
        ),
    )
    for decorator in reversed(decorators):
        f = decorator(f)
    return f
