"""Measuring: rows of the results table, interleaved rounds, and timed subprocesses.

Every figure is measured together with its baseline, in the same run, in *rounds*: a round
times ``samples`` runs of each contender, alternating between them (A B A B ...) so that a
noisy neighbour or a CPU frequency change hits both alike, and keeps the median of each. The
table then shows, over the rounds, the median ratio (or difference) and its min–max.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Row",
    "Spread",
    "Target",
    "interleave",
    "kill_group",
    "run_timed",
    "spread",
]


@dataclass(frozen=True)
class Spread:
    """Median and range of per-round values."""

    median: float
    low: float
    high: float


def spread(values: Sequence[float]) -> Spread:
    """The median, minimum and maximum of ``values`` (NaN for an empty list)."""
    if not values:
        return Spread(math.nan, math.nan, math.nan)
    return Spread(statistics.median(values), min(values), max(values))


@dataclass(frozen=True)
class Target:
    """What a row must meet, judged on the median of the rounds.

    ``kind`` is ``ratio`` (figure / baseline below ``limit``), ``diff`` (figure − baseline below
    ``limit``, in the row's unit), ``below`` (figure below ``limit``), ``above`` (figure above
    ``limit``) or ``none`` (reported only).
    """

    kind: str
    limit: float = math.nan
    text: str = ""

    def met(self, row: Row) -> bool | None:
        """Whether ``row`` meets the target (``None`` when there is nothing to judge)."""
        if self.kind == "none" or not row.values:
            return None
        if self.kind == "ratio":
            return row.ratio().median < self.limit
        if self.kind == "diff":
            return row.diff().median < self.limit
        if self.kind == "below":
            return row.value().median < self.limit
        if self.kind == "above":
            return row.value().median > self.limit
        raise ValueError(f"unknown target kind {self.kind!r}")


NO_TARGET = Target("none", text="—")


@dataclass
class Row:
    """One line of the table: a figure, its baseline and the per-round values of both.

    ``values[i]`` and ``baseline_values[i]`` come from the same round. ``note`` explains a row
    that could not be measured (then ``values`` is empty).
    """

    group: str
    figure: str
    baseline: str
    unit: str
    values: list[float] = field(default_factory=list)
    baseline_values: list[float] = field(default_factory=list)
    target: Target = NO_TARGET
    note: str = ""

    def value(self) -> Spread:
        """The figure over the rounds."""
        return spread(self.values)

    def base(self) -> Spread:
        """The baseline over the rounds."""
        return spread(self.baseline_values)

    def ratio(self) -> Spread:
        """figure / baseline per round."""
        pairs = zip(self.values, self.baseline_values, strict=False)
        return spread([v / b for v, b in pairs if b])

    def diff(self) -> Spread:
        """figure − baseline per round."""
        pairs = zip(self.values, self.baseline_values, strict=False)
        return spread([v - b for v, b in pairs])

    def met(self) -> bool | None:
        """Whether the target is met (``None``: no target or not measured)."""
        return self.target.met(self)


def interleave(
    contenders: Mapping[str, Callable[[], float | Mapping[str, float]]],
    *,
    rounds: int,
    samples: int,
    warmup: int = 1,
    budget_s: float | None = None,
) -> dict[str, list[float]]:
    """Run each contender ``samples`` times per round, alternating; per-round medians.

    A contender returns the quantity it measured (seconds, usually), or several as a mapping
    (``{"wall": ..., "cpu": ...}``, reported as ``"<name>.<key>"``). ``warmup`` runs of each
    are made first and thrown away. With ``budget_s``, stop starting new rounds once that much
    time has passed (at least two rounds are always completed).
    """
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    started = time.monotonic()
    results: dict[str, list[float]] = {}
    for done in range(rounds):
        if budget_s is not None and done >= 2 and time.monotonic() - started > budget_s:
            break
        per_round: dict[str, list[float]] = {}
        for _ in range(samples):
            for name, fn in contenders.items():
                measured = fn()
                if isinstance(measured, Mapping):
                    for key, value in measured.items():
                        per_round.setdefault(f"{name}.{key}", []).append(value)
                else:
                    per_round.setdefault(name, []).append(measured)
        for name, values in per_round.items():
            results.setdefault(name, []).append(statistics.median(values))
    return results


def kill_group(pgid: int) -> None:
    """SIGKILL a process group, ignoring one that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass(frozen=True)
class Timed:
    """A finished, timed subprocess.

    ``cpu`` is the user + system CPU time of the process and the descendants it waited for
    (a steadier figure than wall time on a machine that other work competes for).
    """

    seconds: float
    cpu: float
    rc: int
    stdout: bytes
    stderr: bytes


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 60.0,
    capture: bool = False,
) -> Timed:
    """Run ``argv`` (stdin /dev/null, own process group) and time it from spawn to exit.

    The wait blocks in ``waitpid`` (``Popen.wait(timeout=...)`` would poll with sleeps of up
    to 50 ms and blur the timing); a watchdog kills the group after ``timeout`` seconds, and
    the group is killed after exit too, so nothing the process started outlives it.
    """
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    watchdog = threading.Timer(timeout, kill_group, args=(proc.pid,))
    watchdog.daemon = True
    watchdog.start()
    try:
        stdout, stderr = proc.communicate()
        elapsed = time.perf_counter() - started
    finally:
        watchdog.cancel()
        kill_group(proc.pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode == -signal.SIGKILL and elapsed >= timeout:
        raise TimeoutError(f"{' '.join(argv)} did not finish within {timeout} s")
    return Timed(elapsed, cpu, proc.returncode, stdout or b"", stderr or b"")
