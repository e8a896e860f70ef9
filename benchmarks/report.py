"""The results table (markdown), the machine it ran on, and ``benchmarks/RESULTS.md``.

``RESULTS.md`` keeps hand-written analysis around a generated block; a run replaces only the
block between the ``<!-- results:begin -->`` and ``<!-- results:end -->`` markers.
"""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import Row, Spread

__all__ = ["machine", "render", "write_results"]

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"

_SCALE = {"ms": 1e3, "µs": 1e6, "s": 1.0, "MB": 1.0, "req/s": 1.0}


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "—"
    shown = value * _SCALE.get(unit, 1.0)
    if abs(shown) >= 100:
        return f"{shown:.0f}"
    if abs(shown) >= 10:
        return f"{shown:.1f}"
    return f"{shown:.2f}"


def _with_range(s: Spread, unit: str, suffix: str = "") -> str:
    if math.isnan(s.median):
        return "—"
    return (
        f"{_fmt(s.median, unit)}{suffix} ({_fmt(s.low, unit)}–{_fmt(s.high, unit)})"
        if s.low != s.high
        else f"{_fmt(s.median, unit)}{suffix}"
    )


def _ratio(s: Spread) -> str:
    if math.isnan(s.median):
        return "—"
    return f"{s.median:.2f}× ({s.low:.2f}–{s.high:.2f})"


def _met(row: Row) -> str:
    met = row.met()
    return "—" if met is None else ("yes" if met else "**no**")


def render(rows: Sequence[Row]) -> str:
    """The markdown table of all rows (figures, baselines, ratio/difference, target, met)."""
    lines = [
        "| Figure | Baseline | Figure (median, min–max) | Baseline | Ratio | Difference | Target | Met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if not row.values:
            note = row.note or "not measured"
            lines.append(
                f"| {row.figure} | {row.baseline} | {note} | — | — | — | {row.target.text} | — |"
            )
            continue
        unit = row.unit
        has_base = bool(row.baseline_values)
        sign = "+" if has_base and row.diff().median >= 0 else ""
        lines.append(
            "| "
            + " | ".join(
                [
                    row.figure,
                    row.baseline,
                    _with_range(row.value(), unit, f" {unit}"),
                    _with_range(row.base(), unit, f" {unit}") if has_base else "—",
                    _ratio(row.ratio()) if has_base else "—",
                    (sign + _with_range(row.diff(), unit, f" {unit}")) if has_base else "—",
                    row.target.text,
                    _met(row),
                ]
            )
            + " |"
        )
    notes = [f"- {row.figure}: {row.note}" for row in rows if row.values and row.note]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def _meminfo_gib() -> str:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _kernel() -> str:
    """The kernel's version number only (vendor build tags are left out)."""
    release = platform.release()
    match = re.match(r"\d+(?:\.\d+){0,2}", release)
    return match.group(0) if match else "unknown"


def _node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "not installed"
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine() -> list[tuple[str, str]]:
    """What the numbers were measured on (no host names, users or paths)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("CPU", f"{_cpu_model()}, {usable} usable cores ({os.cpu_count()} online)"),
        ("Memory", _meminfo_gib()),
        ("OS", f"{_os_name()}, {platform.system()} {_kernel()} ({platform.machine()})"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Node.js", _node_version()),
    ]


def block(rows: Sequence[Row], *, command: str) -> str:
    """The generated part of ``RESULTS.md``: date, machine, command and table."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    spec = "\n".join(f"- **{k}**: {v}" for k, v in machine())
    return f"Measured {when} with `{command}` on:\n\n{spec}\n\n{render(rows)}\n"


def write_results(path: Path, rows: Sequence[Row], *, command: str) -> None:
    """Replace the generated block of ``path`` (create the file if needed)."""
    generated = f"{BEGIN}\n{block(rows, command=command)}{END}"
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + generated + tail
    else:
        text = f"# Benchmark results\n\n{generated}\n" + (f"\n{text}" if text else "")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
