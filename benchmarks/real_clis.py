"""Real CLIs: ``clinvk -b B -o json "…"`` against running the same CLI by hand.

Each CLI (``claude``, ``codex``, ``gemini`` from ``$CLINVK_TEST_CLIS_BIN``, else ``PATH``) gets
the tests' isolated environment (its own ``HOME``, offline settings) pointing at the fake model
API on 127.0.0.1, so both contenders do identical model traffic. The baseline is the exact
command ``clinvk --dry-run`` prints for the same flags (with a fresh ``--session-id`` per run,
as clinvk makes one), run in the same directory with the same environment. clinvk runs with
``--new``, so every run is a first turn, like the baseline (otherwise session.auto_resume would
continue the previous run's conversation); it still creates and updates its session file.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from benchmarks.background import fake_model_api
from benchmarks.context import Context, test_support
from benchmarks.harness import NO_TARGET, Row, Target, interleave, run_timed
from benchmarks.startup import clinvk_script

__all__ = ["run"]

PROMPT = "say hi"
ANSWER = "Hello from fake model"
TARGET = Target("ratio", 1.05, "< 1.05×")
TIMEOUT = 120.0


def _fresh_ids(argv: list[str]) -> list[str]:
    """``argv`` with a new ``--session-id`` (each CLI run must start a new conversation)."""
    return [
        f"--session-id={uuid.uuid4()}" if arg.startswith("--session-id=") else arg for arg in argv
    ]


def _check(what: str, rc: int, out: bytes, err: bytes, *, answer: bool) -> None:
    """Fail loudly unless the run succeeded (and, with ``answer``, printed the fake's reply)."""
    if rc != 0:
        raise RuntimeError(f"{what} failed ({rc}): {err.decode(errors='replace')[-600:]}")
    if answer and json.loads(out).get("content") != ANSWER:
        raise RuntimeError(f"{what} did not print the fake model's answer: {out[-600:]!r}")
    if not out.strip():
        raise RuntimeError(f"{what} printed nothing: {err.decode(errors='replace')[-600:]}")


def _bench_cli(ctx: Context, backend: str, port: str, bin_dir: Path) -> list[Row]:
    clis = test_support("clis")
    env = clis.build_cli_env(
        ctx.scratch / "clis" / backend,
        backend=backend,
        base_url=f"http://127.0.0.1:{port}/__mode/ok",
        bin_dir=bin_dir,
    )
    flags = ["-b", backend, "-m", clis.TEST_MODELS[backend], "-o", "json", "--new"]
    clinvk = [str(clinvk_script()), *flags, PROMPT]
    dry = run_timed(
        [clinvk[0], "--dry-run", *flags, PROMPT], env=env, cwd=env.workdir, capture=True
    )
    if dry.rc != 0:
        raise RuntimeError(f"clinvk --dry-run failed: {dry.stderr.decode()[-600:]}")
    plan = json.loads(dry.stdout)
    direct: list[str] = list(plan["command"])
    cwd = plan.get("cwd") or str(env.workdir)
    unmatched = [name for name in plan.get("env", []) if name not in env]
    if unmatched:  # the dry run names the variables clinvk adds, not their values
        raise RuntimeError(f"clinvk adds {', '.join(unmatched)} to the CLI's environment")

    def run_clinvk() -> dict[str, float]:
        done = run_timed(clinvk, env=env, cwd=env.workdir, timeout=TIMEOUT, capture=True)
        _check(f"clinvk -b {backend}", done.rc, done.stdout, done.stderr, answer=True)
        return {"wall": done.seconds, "cpu": done.cpu}

    def run_direct() -> dict[str, float]:
        done = run_timed(_fresh_ids(direct), env=env, cwd=cwd, timeout=TIMEOUT, capture=True)
        _check(backend, done.rc, done.stdout, done.stderr, answer=False)
        return {"wall": done.seconds, "cpu": done.cpu}

    probe = run_direct()["wall"]
    samples = 3 if probe < 1.0 else 1
    times = interleave(
        {"direct": run_direct, "clinvk": run_clinvk},
        rounds=ctx.rounds,
        samples=ctx.scaled(samples),
        budget_s=150 * ctx.scale,
    )
    return [
        Row(
            "clis",
            f'`clinvk -b {backend} -o json "…"`, {label}',
            f"`{backend}` run directly (the argv `clinvk --dry-run` prints)",
            "ms",
            times[f"clinvk.{metric}"],
            times[f"direct.{metric}"],
            target,
        )
        for metric, label, target in (
            ("wall", "wall time", TARGET),
            # CPU time shows the work clinvk adds; most of it runs on the other core while the
            # CLI starts, so what the user waits for is the wall time.
            ("cpu", "CPU time", NO_TARGET),
        )
    ]


def run(ctx: Context) -> list[Row]:
    """One pair of rows per CLI found."""
    clis = test_support("clis")
    bin_dir = clis.find_cli_bin()
    if bin_dir is None:
        return [
            Row(
                "clis",
                "real CLIs",
                "—",
                "",
                note=f"not measured: no CLI found ({clis.install_hint()})",
            )
        ]
    rows: list[Row] = []
    with fake_model_api(ctx.dir("clis/fake-api")) as api:
        for backend in clis.CLI_NAMES:
            if not (bin_dir / backend).exists():
                rows.append(Row("clis", f"`clinvk -b {backend}`", "—", "", note="CLI not found"))
                continue
            try:
                rows += _bench_cli(ctx, backend, api.ready, bin_dir)
            except (RuntimeError, TimeoutError, ValueError) as exc:
                rows.append(
                    Row(
                        "clis",
                        f'`clinvk -b {backend} -o json "…"`',
                        "—",
                        "",
                        note=f"failed: {type(exc).__name__}: {exc}",
                    )
                )
    return rows
