"""Start-up: ``clinvk --help`` and ``clinvk version`` against ``python -c pass``.

Both run with the interpreter of this environment (the ``clinvk`` console script's own), a
fresh ``HOME``/``CLINVK_HOME`` (so no user config is read) and output to /dev/null. Wall time is what a user waits; CPU time (user + system) is reported too
because it hardly moves when other work competes for the cores.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from benchmarks.context import Context
from benchmarks.harness import Row, Target, interleave, run_timed

__all__ = ["run"]

TARGET = Target("ratio", 2.0, "< 2×")


def clinvk_script() -> Path:
    """The ``clinvk`` console script next to this interpreter."""
    script = Path(sys.executable).parent / "clinvk"
    if not script.exists():
        raise FileNotFoundError(f"no clinvk console script next to {sys.executable}")
    return script


def run(ctx: Context) -> list[Row]:
    """Time start-up; one row per command."""
    env = ctx.clean_env("startup")
    clinvk = str(clinvk_script())
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "clinvk --help": [clinvk, "--help"],
        "clinvk version": [clinvk, "version"],
    }
    for argv in commands.values():
        done = run_timed(argv, env=env, capture=True, timeout=30)
        if done.rc != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({done.rc}): {done.stderr.decode()[-500:]}"
            )

    def timer(argv: list[str]) -> dict[str, float]:
        done = run_timed(argv, env=env, timeout=30)
        return {"wall": done.seconds, "cpu": done.cpu}

    times = interleave(
        {name: functools.partial(timer, argv) for name, argv in commands.items()},
        rounds=ctx.rounds,
        samples=ctx.scaled(5),
        warmup=2,
    )
    rows = []
    for name in ("clinvk --help", "clinvk version"):
        for metric, label in (("wall", "wall time"), ("cpu", "CPU time")):
            rows.append(
                Row(
                    group="start-up",
                    figure=f"`{name}` start-up, {label}",
                    baseline="`python -c pass`",
                    unit="ms",
                    values=times[f"{name}.{metric}"],
                    baseline_values=times[f"python -c pass.{metric}"],
                    target=TARGET,
                )
            )
    return rows
