"""The flags of ``clinvk``: global flags (accepted before or after any subcommand) and run flags.

Global flags behave like the Go tool's persistent flags: ``clinvk -b codex sessions list`` and
``clinvk sessions list -b codex`` mean the same. They are not passed to callbacks; each one
records its explicit value in the root context, and commands read them with :func:`global_flags`.
This module imports only click, so ``clinvk --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from click.core import ParameterSource

__all__ = [
    "APPROVAL_MODES",
    "OUTPUT_FORMATS",
    "SANDBOX_MODES",
    "GlobalFlags",
    "add_global_options",
    "global_flags",
    "run_options",
    "split_list",
]

F = TypeVar("F", bound=Callable[..., Any])

APPROVAL_MODES = ("default", "auto", "none", "always")
SANDBOX_MODES = ("default", "read-only", "workspace", "full")
OUTPUT_FORMATS = ("text", "json", "stream-json", "default")

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
            "type": click.Path(exists=True, file_okay=False, resolve_path=True),
            "help": "Working directory of the backend CLI (default: the current directory).",
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
