"""``clinvk parallel``, ``chain`` and ``compare``: many runs from one command."""

from __future__ import annotations

import click

__all__ = ["chain", "compare", "parallel"]


@click.command(
    short_help="Run many prompts at once from a task file.",
    epilog=(
        "\b\nExamples:\n"
        "  clinvk parallel -f tasks.yaml\n"
        "  clinvk parallel -f tasks.json --max-parallel 2 --fail-fast --json\n"
        "  cat tasks.json | clinvk parallel -o results/\n"
        "\b\nTask file (JSON or YAML):\n"
        "  tasks:\n"
        "    - {backend: claude, prompt: review auth.py, name: review}\n"
        "    - {backend: codex, prompt: add tests, workdir: ./api, model: fast}\n"
        "  max_parallel: 2\n"
        "  fail_fast: false"
    ),
)
@click.option(
    "-f",
    "--file",
    "file",
    metavar="FILE",
    help="Task file, JSON or YAML (default: read stdin; - also means stdin).",
)
@click.option(
    "--input",
    "input_file",
    metavar="FILE",
    hidden=True,
    help="Deprecated alias of --file.",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    metavar="N",
    help="Run at most N tasks at a time (default: the file's max_parallel, else parallel.max_workers).",
)
@click.option("--fail-fast", is_flag=True, help="Stop every task as soon as one fails.")
@click.option(
    "-o",
    "--output-dir",
    metavar="DIR",
    help="Also write summary.json and one NNN_<name>.json per task into DIR.",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the aggregate JSON.")
@click.option(
    "-q", "--quiet", is_flag=True, help="No header and no per-task output; just the table."
)
@click.pass_context
def parallel(
    ctx: click.Context,
    file: str | None,
    input_file: str | None,
    max_parallel: int | None,
    fail_fast: bool,
    output_dir: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Run the tasks of a task file concurrently, each on its own backend.

    Exit code 0 when every task succeeded, 1 when any failed, 130 when interrupted (every
    backend process is stopped). Runs are ephemeral: they create no clinvk sessions.
    """
    from clinvoker.cli.orchestration import run_parallel_command

    file = _deprecated_input(ctx, file, input_file)
    return run_parallel_command(
        ctx,
        file=file,
        max_parallel=max_parallel,
        fail_fast=fail_fast,
        output_dir=output_dir,
        as_json=as_json,
        quiet=quiet,
    )


@click.command(
    short_help="Run prompts one after another, feeding each answer to the next.",
    epilog=(
        "\b\nExamples:\n"
        "  clinvk chain -f pipeline.yaml\n"
        "  clinvk chain -f pipeline.json --json\n"
        "\b\nChain file (JSON or YAML):\n"
        "  steps:\n"
        "    - {name: draft, backend: claude, prompt: write a haiku about rain}\n"
        '    - {name: review, backend: codex, prompt: "critique this: {{previous}}"}\n'
        "  pass_working_dir: false"
    ),
)
@click.option(
    "-f",
    "--file",
    "file",
    metavar="FILE",
    help="Chain file, JSON or YAML (default: read stdin; - also means stdin).",
)
@click.option(
    "--input",
    "input_file",
    metavar="FILE",
    hidden=True,
    help="Deprecated alias of --file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the aggregate JSON.")
@click.pass_context
def chain(ctx: click.Context, file: str | None, input_file: str | None, as_json: bool) -> int:
    """Run the steps of a chain file in order; {{previous}} in a prompt is the previous answer.

    The chain stops at the first failing step (exit 1). With pass_working_dir, a step without
    its own workdir uses the previous step's. Runs are ephemeral.
    """
    from clinvoker.cli.orchestration import run_chain_command

    file = _deprecated_input(ctx, file, input_file)
    return run_chain_command(ctx, file=file, as_json=as_json)


@click.command(
    short_help="Run one prompt on several backends and compare the answers.",
    epilog=(
        "\b\nExamples:\n"
        '  clinvk compare --all-backends "what does main.py do?"\n'
        '  clinvk compare --backends claude,codex --json "explain the bug"\n'
        '  clinvk compare -b claude -b gemini --sequential "summarize README.md"'
    ),
)
@click.argument("prompt", required=False)
@click.option(
    "-b",
    "-B",
    "--backends",
    "backend_names",
    multiple=True,
    metavar="NAMES",
    help="Backends to compare (comma list, repeatable).",
)
@click.option("--all-backends", is_flag=True, help="Every installed backend.")
@click.option("--sequential", is_flag=True, help="One backend after another instead of at once.")
@click.option("--json", "as_json", is_flag=True, help="Print only the aggregate JSON.")
@click.pass_context
def compare(
    ctx: click.Context,
    prompt: str | None,
    backend_names: tuple[str, ...],
    all_backends: bool,
    sequential: bool,
    as_json: bool,
) -> int:
    """Send PROMPT (or stdin) to several backends and print the answers side by side.

    Exit code 1 when any backend failed. Runs are ephemeral.
    """
    from clinvoker.cli.orchestration import run_compare_command

    return run_compare_command(
        ctx,
        prompt=prompt,
        backend_names=backend_names,
        all_backends=all_backends,
        sequential=sequential,
        as_json=as_json,
    )


def _deprecated_input(ctx: click.Context, file: str | None, input_file: str | None) -> str | None:
    """``--input FILE`` (the Go tool's old spelling) means ``-f FILE``, with a warning."""
    if input_file is None:
        return file
    click.echo("Warning: --input is deprecated; use -f/--file", err=True)
    if file is not None and file != input_file:
        raise click.UsageError("give the file once, with -f/--file", ctx)
    return input_file
