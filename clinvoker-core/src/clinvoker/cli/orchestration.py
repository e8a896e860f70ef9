"""``parallel``, ``chain`` and ``compare``: read the input, run through the client, print.

Runs happen in :mod:`clinvoker.orchestrate` (behind the client); this module only reads task
files, shows progress on a terminal, prints results and picks the exit code. Ctrl-C cancels the
run, which stops every backend process group, and ``clinvk`` exits 130.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from clinvoker.cli import reports
from clinvoker.cli.aio import run_async
from clinvoker.cli.exitcodes import BACKEND_FAILED, OK
from clinvoker.cli.progress import Progress, make_progress
from clinvoker.cli.state import CliState, get_state
from clinvoker.cli.tables import truncate

if TYPE_CHECKING:
    from clinvoker.orchestrate import Outcome

__all__ = ["run_chain_command", "run_compare_command", "run_parallel_command"]

T = TypeVar("T")


def _read_input(state: CliState, file: str | None, what: str) -> tuple[str | None, str | None]:
    """``(path, None)`` for a file, ``(None, text)`` for stdin; stdin must not be a terminal."""
    if file is not None and file != "-":
        return file, None
    if state.stdin_is_tty():
        raise click.UsageError(f"no input: give the {what} file with -f FILE or pipe it on stdin")
    return None, sys.stdin.read()


def _run(state: CliState, progress: Progress, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` with the progress display on; Ctrl-C stops everything (exit 130)."""
    with progress:
        return run_async(work)


class _Printer:
    """Prints finished runs as they come (above the progress lines) unless told to be quiet."""

    def __init__(self, state: CliState, progress: Progress, *, enabled: bool) -> None:
        self.state = state
        self.progress = progress
        self.enabled = enabled

    def __call__(self, text: str) -> None:
        if self.enabled:
            self.progress.emit(self.state.out, text)


# -- parallel ----------------------------------------------------------------------------------


def run_parallel_command(
    ctx: click.Context,
    *,
    file: str | None,
    max_parallel: int | None,
    fail_fast: bool,
    output_dir: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """``clinvk parallel``."""
    from clinvoker.cli.taskfile import load_task_file
    from clinvoker.orchestrate import ParallelSpec, write_output_dir

    state = get_state(ctx)
    as_json = state.wants_json(as_json)
    path, text = _read_input(state, file, "task")
    spec = load_task_file(path, text, ParallelSpec, wrap="tasks")
    if not spec.tasks:
        raise click.UsageError(f"{path or '<stdin>'}: no tasks provided")
    parallel = state.config.parallel
    limit = max_parallel or spec.max_parallel or parallel.max_workers
    stop_early = fail_fast or spec.fail_fast or parallel.fail_fast
    labels = [t.label for t in spec.tasks]
    progress = make_progress(state.err, [truncate(x, 50) for x in labels], enabled=not quiet)
    show = _Printer(state, progress, enabled=not (quiet or as_json))
    show(reports.parallel_header(len(spec.tasks), limit, stop_early))

    def done(outcome: Outcome) -> None:
        progress.update(outcome.index, outcome.status)
        show(reports.outcome_line(outcome, str(outcome.index + 1)))

    report = _run(
        state,
        progress,
        lambda: state.client.run_parallel(
            spec,
            max_parallel=max_parallel,
            fail_fast=True if fail_fast else None,
            dry_run=state.flags.dry_run,
            workdir=state.flags.workdir,
            on_start=lambda i: progress.update(i, "running"),
            on_done=done,
        ),
    )
    target = output_dir or spec.output_dir
    if target:
        written = write_output_dir(report, spec.tasks, target)
        state.verbose(f"results written to {written}")
    if as_json:
        from clinvoker.cli.render import dumps

        click.echo(dumps(report.to_dict()))
    elif quiet or parallel.aggregate_output:
        click.echo(reports.parallel_table(report, labels), nl=False)
    if report.failed:
        click.echo(f"Error: {report.failed} task(s) failed", err=True)
        return BACKEND_FAILED
    return OK


# -- chain -------------------------------------------------------------------------------------


def run_chain_command(ctx: click.Context, *, file: str | None, as_json: bool) -> int:
    """``clinvk chain``."""
    from clinvoker.cli.taskfile import load_task_file
    from clinvoker.orchestrate import ChainSpec

    state = get_state(ctx)
    as_json = state.wants_json(as_json)
    path, text = _read_input(state, file, "chain")
    spec = load_task_file(path, text, ChainSpec, wrap="steps")
    total = len(spec.steps)
    labels = [truncate(s.name or s.prompt, 50) for s in spec.steps]
    progress = make_progress(state.err, labels, enabled=True)
    show = _Printer(state, progress, enabled=not as_json)
    show(reports.chain_header(total))

    def done(outcome: Outcome) -> None:
        progress.update(outcome.index, outcome.status)
        show(reports.chain_step(outcome, total))

    report = _run(
        state,
        progress,
        lambda: state.client.run_chain(
            spec,
            model=state.flags.model,
            workdir=state.flags.workdir,
            dry_run=state.flags.dry_run,
            on_start=lambda i: progress.update(i, "running"),
            on_done=done,
        ),
    )
    for index in range(len(report.results), total):
        progress.update(index, "skipped")
    if as_json:
        from clinvoker.cli.render import dumps

        click.echo(dumps(report.to_dict()))
    else:
        click.echo(reports.chain_summary(report), nl=False)
    if report.failed_step is not None:
        click.echo(f"Error: chain failed at step {report.failed_step}", err=True)
        return BACKEND_FAILED
    return OK


# -- compare -----------------------------------------------------------------------------------


def run_compare_command(
    ctx: click.Context,
    *,
    prompt: str | None,
    backend_names: tuple[str, ...],
    all_backends: bool,
    sequential: bool,
    as_json: bool,
) -> int:
    """``clinvk compare``."""
    from clinvoker.cli.options import split_list
    from clinvoker.cli.prompt import read_prompt

    state = get_state(ctx)
    as_json = state.wants_json(as_json)
    names = list(dict.fromkeys(split_list(backend_names)))
    if all_backends and names:
        raise click.UsageError("use either --backends or --all-backends", ctx)
    if not all_backends and not names:
        raise click.UsageError("specify backends with --backends a,b or use --all-backends", ctx)
    text = read_prompt(state, prompt)
    if text is None:
        raise click.UsageError("no prompt: pass PROMPT as an argument or pipe it on stdin", ctx)
    names = _available(state, state.client.backend_names() if all_backends else names)
    progress = make_progress(state.err, names, enabled=True)
    show = _Printer(state, progress, enabled=not as_json)
    show(reports.compare_header(names, text))

    def done(outcome: Outcome) -> None:
        progress.update(outcome.index, outcome.status)
        if sequential:
            show(reports.compare_result(outcome))

    report = _run(
        state,
        progress,
        lambda: state.client.run_compare(
            text,
            names,
            model=state.flags.model,
            workdir=state.flags.workdir,
            sequential=sequential,
            dry_run=state.flags.dry_run,
            on_start=lambda i: progress.update(i, "running"),
            on_done=done,
        ),
    )
    if as_json:
        from clinvoker.cli.render import dumps

        click.echo(dumps(report.to_dict()))
    else:
        if not sequential:
            click.echo("".join(reports.compare_result(o) for o in report.results), nl=False)
        click.echo(reports.compare_summary(report), nl=False)
    if report.failed:
        click.echo("Error: some backends failed", err=True)
        return BACKEND_FAILED
    return OK


def _available(state: CliState, names: list[str]) -> list[str]:
    """The backends whose CLI is installed; the others are skipped with a warning."""
    from clinvoker.errors import BackendUnavailable

    usable = []
    for name in names:
        if state.client.is_installed(name):
            usable.append(name)
        else:
            click.echo(f"Warning: backend {name!r} is not installed, skipping", err=True)
    if not usable:
        raise BackendUnavailable(
            "no installed backend to compare",
            hint="see `clinvk backends` for what is missing and how to install it",
        )
    return usable
