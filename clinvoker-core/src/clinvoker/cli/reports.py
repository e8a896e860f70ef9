"""Text output of ``parallel``, ``chain`` and ``compare`` (the Go tool's layout, a bit wider)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinvoker.cli.tables import truncate

if TYPE_CHECKING:
    from clinvoker.orchestrate import ChainReport, CompareReport, Outcome, ParallelReport

__all__ = [
    "chain_header",
    "chain_step",
    "chain_summary",
    "compare_header",
    "compare_result",
    "compare_summary",
    "outcome_line",
    "parallel_header",
    "parallel_table",
    "status_label",
]

RULE = "-" * 80
DOUBLE = "=" * 80
_STATUS = {"completed": "OK", "failed": "FAILED", "cancelled": "CANCELED"}


def status_label(outcome: Outcome) -> str:
    """``OK``, ``FAILED`` or ``CANCELED``."""
    return _STATUS.get(outcome.status, outcome.status.upper())


def _answer(outcome: Outcome) -> str:
    if outcome.command is not None:
        import shlex

        return f"Would execute: {shlex.join(outcome.command)}"
    return outcome.output.rstrip("\n")


def outcome_line(outcome: Outcome, label: str) -> str:
    """``[label] <answer>``, or ``Error [label]: <error>`` (one finished run, as it finishes)."""
    if outcome.status == "completed" or outcome.command is not None:
        return f"[{label}] {_answer(outcome)}\n"
    return f"Error [{label}]: {outcome.error or 'failed'}\n"


def _secs(outcome: Outcome) -> str:
    return f"{outcome.duration_s:.2f}s"


def _tokens(outcome: Outcome) -> str:
    return str(outcome.usage.total_tokens) if outcome.usage is not None else "-"


# -- parallel ----------------------------------------------------------------------------------


def parallel_header(count: int, limit: int, fail_fast: bool) -> str:
    extra = ", fail-fast" if fail_fast else ""
    return f"Running {count} tasks (max {limit} parallel{extra})...\n\n"


def parallel_table(report: ParallelReport, labels: list[str]) -> str:
    lines = [
        "",
        "Results:",
        RULE,
        f"{'#':<4} {'BACKEND':<12} {'STATUS':<8} {'DURATION':<10} TASK",
        RULE,
    ]
    for outcome in report.results:
        lines.append(
            f"{outcome.index + 1:<4} {outcome.backend:<12} {status_label(outcome):<8} "
            f"{_secs(outcome):<10} {truncate(labels[outcome.index], 35)}"
        )
        if outcome.status == "failed" and outcome.error:
            lines.append(f"     Error: {outcome.error}")
    lines.append(RULE)
    cancelled = f", {report.cancelled} cancelled" if report.cancelled else ""
    lines.append(
        f"Total: {len(report.results)} tasks, {report.completed} completed, "
        f"{report.failed} failed{cancelled} ({report.total_duration_s:.2f}s)"
    )
    return "\n".join(lines) + "\n"


# -- chain -------------------------------------------------------------------------------------


def chain_header(count: int) -> str:
    return f"Executing chain with {count} steps\n{DOUBLE}\n"


def chain_step(outcome: Outcome, total: int) -> str:
    name = outcome.name or f"Step {outcome.index + 1}"
    body = _answer(outcome) if outcome.status == "completed" or outcome.command else ""
    text = f"\n[{outcome.index + 1}/{total}] {name} ({outcome.backend})\n{RULE}\n"
    if body:
        text += body + "\n"
    if outcome.status != "completed" and outcome.command is None:
        text += f"Error [{outcome.backend}]: {outcome.error or 'failed'}\n"
    return text


def chain_summary(report: ChainReport) -> str:
    lines = [
        "",
        DOUBLE,
        "CHAIN EXECUTION SUMMARY",
        DOUBLE,
        f"{'STEP':<6} {'BACKEND':<12} {'STATUS':<8} {'DURATION':<10} NAME",
    ]
    for outcome in report.results:
        lines.append(
            f"{outcome.index + 1:<6} {outcome.backend:<12} {status_label(outcome):<8} "
            f"{_secs(outcome):<10} {outcome.name or '-'}"
        )
        if outcome.status == "failed" and outcome.error:
            lines.append(f"       Error: {outcome.error}")
    lines.append(
        f"Total: {report.completed}/{report.total_steps} steps completed "
        f"({report.total_duration_s:.2f}s)"
    )
    return "\n".join(lines) + "\n"


# -- compare -----------------------------------------------------------------------------------


def compare_header(backends: list[str], prompt: str) -> str:
    return (
        f"Comparing {len(backends)} backends: {', '.join(backends)}\n"
        f"Prompt: {truncate(prompt, 60)}\n{DOUBLE}\n"
    )


def compare_result(outcome: Outcome) -> str:
    return "\n" + outcome_line(outcome, outcome.backend)


def compare_summary(report: CompareReport) -> str:
    """Backends side by side: status, time, tokens, cost and model of each."""
    lines = [
        "",
        DOUBLE,
        "COMPARISON SUMMARY",
        DOUBLE,
        f"{'BACKEND':<12} {'STATUS':<10} {'DURATION':<12} {'TOKENS':<8} {'COST':<10} MODEL",
    ]
    for outcome in report.results:
        cost = f"${outcome.cost_usd:.4f}" if outcome.cost_usd is not None else "-"
        lines.append(
            f"{outcome.backend:<12} {status_label(outcome):<10} {_secs(outcome):<12} "
            f"{_tokens(outcome):<8} {cost:<10} {outcome.model or '(default)'}"
        )
        if outcome.status == "failed" and outcome.error:
            lines.append(f"{'':13}Error: {outcome.error}")
    lines.append(f"Total time: {report.total_duration_s:.2f}s")
    return "\n".join(lines) + "\n"
