"""``python -m benchmarks``: measure what clinvoker costs over its baselines, print the table.

    python -m benchmarks                    # everything (what `nox -s bench` runs)
    python -m benchmarks --only startup,sessions --quick
    python -m benchmarks --no-write         # do not update benchmarks/RESULTS.md

Only a full run (every suite, not ``--quick``) updates ``benchmarks/RESULTS.md``.

Suites: startup, sessions, clis (real CLIs against the fake model API; needs
$CLINVK_TEST_CLIS_BIN or the CLIs on PATH), server (latency, throughput, SSE relay, memory).
A suite that cannot run (missing CLI, code not there yet) becomes a "not measured" row with
the reason; the run itself never fails because a target is missed.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.context import Context
from benchmarks.harness import Row
from benchmarks.report import render, write_results

SUITES: dict[str, tuple[str, str]] = {
    "startup": ("benchmarks.startup", "start-up"),
    "sessions": ("benchmarks.session_store", "sessions"),
    "clis": ("benchmarks.real_clis", "real CLIs"),
    "server": ("benchmarks.server_suite", "server"),
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure what clinvoker costs over its baselines and print the table.",
    )
    parser.add_argument(
        "--only", default=",".join(SUITES), help=f"comma list of suites ({', '.join(SUITES)})"
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds per figure (default 7)")
    parser.add_argument("--quick", action="store_true", help="fewer samples: a smoke run")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}: use {', '.join(SUITES)}")
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (min–max needs more than one round)")
    return args


def _suite(module: str) -> Callable[[Context], list[Row]]:
    runner: Callable[[Context], list[Row]] = importlib.import_module(module).run
    return runner


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen suites and print (and save) the table."""
    args = _parse(argv)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="clinvk-bench-") as scratch:
        ctx = Context(Path(scratch), rounds=args.rounds, scale=0.3 if args.quick else 1.0)
        for name in args.only.split(","):
            module, title = SUITES[name]
            started = time.monotonic()
            print(f"== {title} ...", file=sys.stderr, flush=True)
            try:
                rows += _suite(module)(ctx)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                rows.append(
                    Row(
                        title,
                        f"{title} suite",
                        "—",
                        "",
                        note=f"failed: {type(exc).__name__}: {exc}",
                    )
                )
            print(f"   {title}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(render(rows))
    full = not args.quick and set(args.only.split(",")) == set(SUITES)
    if not full and not args.no_write:
        print("\n(a partial or --quick run: RESULTS.md left alone)", file=sys.stderr)
    elif not args.no_write:
        command = shlex.join(["python", "-m", "benchmarks", *(argv or sys.argv[1:])])
        write_results(RESULTS, rows, command=command)
        print(f"\n(written to {RESULTS.relative_to(RESULTS.parent.parent)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
