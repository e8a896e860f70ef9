"""Sessions: list the newest 50 of 10,000 sessions, and find one by id prefix.

10,000 session files (the store's own format, varied backends, directories and ages) are
written straight to a fresh sessions directory; then:

* listing with a *settled* directory — the normal case: nothing written for a while, the
  summary cache is trusted as is (a fresh store object each time, like a new process);
* listing right after another process wrote a session — every file is stat'ed, none re-read;
* listing with no cache at all — the first listing ever, every file is read;
* ``clinvk sessions list -n 50`` as a process — what the user waits for;
* ``store.get(<8-hex prefix>)`` — what ``clinvk resume <prefix>`` does to find the session.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.context import Context
from benchmarks.harness import Row, Target, interleave, run_timed
from benchmarks.startup import clinvk_script

__all__ = ["populate", "run"]

COUNT = 10_000
PAGE = 50
LIST_TARGET = Target("below", 0.5, "< 0.5 s")
LOOKUP_TARGET = Target("below", 0.050, "< 50 ms")


def populate(root: Path, count: int, *, seed: int = 7) -> list[str]:
    """Write ``count`` session files into ``root`` (as the store writes them); their ids."""
    import msgspec
    from clinvoker.result import Usage
    from clinvoker.sessions import Session

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    encoder = msgspec.json.Encoder()
    ids = []
    for n in range(count):
        created = start + timedelta(seconds=rng.randrange(30_000_000))
        session = Session(
            id=f"{rng.getrandbits(128):032x}",
            backend=rng.choice(("claude", "codex", "gemini")),
            created_at=created,
            last_used=created + timedelta(seconds=rng.randrange(100_000)),
            working_dir=f"/src/project-{n % 40}",
            backend_session_id=f"{rng.getrandbits(128):032x}",
            model=rng.choice(("claude-sonnet-4-5", "gpt-5.5", "gemini-2.5-pro")),
            initial_prompt=f"fix the failing test number {n} and explain why it failed",
            status=rng.choice(("completed", "completed", "completed", "error")),
            turn_count=rng.randrange(1, 20),
            token_usage=Usage(
                input_tokens=rng.randrange(10_000), output_tokens=rng.randrange(5_000)
            ),
            tags=["bench"] if n % 10 == 0 else [],
        )
        data = msgspec.json.format(encoder.encode(session), indent=2) + b"\n"
        (root / f"{session.id}.json").write_bytes(data)
        ids.append(session.id)
    return ids


def _settle(root: Path) -> None:
    """Make the directory look untouched for a minute (as after any quiet period)."""
    past = time.time() - 60
    os.utime(root, (past, past))


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(ctx: Context) -> list[Row]:
    """Build the store, then time listing and lookup."""
    from clinvoker.session_files import FileSessionStore
    from clinvoker.session_index import INDEX_DIR

    count = ctx.scaled(COUNT, 500)
    root = ctx.scratch / "sessions-home" / "sessions"
    if root.exists():
        shutil.rmtree(root)
    ids = populate(root, count)

    def list_page() -> None:
        sessions, total = FileSessionStore(root).list(limit=PAGE)
        if len(sessions) != PAGE or total < count:
            raise RuntimeError(f"listing returned {len(sessions)} of {total} sessions")

    def read_all() -> None:
        with os.scandir(root) as listing:
            for item in listing:
                if item.name.endswith(".json"):
                    with open(item.path, "rb") as fh:
                        fh.read()

    def stat_all() -> None:
        with os.scandir(root) as listing:
            for item in listing:
                item.stat()

    def cold() -> float:
        shutil.rmtree(root / INDEX_DIR, ignore_errors=True)
        _settle(root)
        return _timed(list_page)

    def settled() -> float:
        _settle(root)
        list_page()  # an earlier listing wrote the cache for the settled directory
        return _timed(list_page)

    writer = FileSessionStore(root)

    def after_write() -> float:
        writer.create(backend="claude", workdir="/src/busy", initial_prompt="a new run")
        return _timed(list_page)

    def listdir() -> float:
        return _timed(lambda: os.listdir(root))

    rng = random.Random(11)

    def lookup() -> float:
        prefix = rng.choice(ids)[:8]
        return _timed(lambda: FileSessionStore(root).get(prefix))

    list_page()  # builds the cache once
    rounds, samples = ctx.rounds, ctx.scaled(5)
    heavy = interleave(
        {"cold": cold, "read_all": lambda: _timed(read_all)}, rounds=rounds, samples=1
    )
    light = interleave(
        {
            "settled": settled,
            "listdir": listdir,
            "after_write": after_write,
            "stat_all": lambda: _timed(stat_all),
            "lookup": lookup,
        },
        rounds=rounds,
        samples=samples,
    )
    _settle(root)
    list_page()
    cli = _cli_rows(ctx, root.parent, rounds, samples)
    n = f"{count:,}"
    return [
        Row(
            "sessions",
            f"list newest {PAGE} of {n}, settled directory (library)",
            "`os.listdir` of the directory",
            "ms",
            light["settled"],
            light["listdir"],
            LIST_TARGET,
        ),
        Row(
            "sessions",
            f"list newest {PAGE} of {n}, just after another process wrote one (library)",
            "`os.scandir` + stat of every file",
            "ms",
            light["after_write"],
            light["stat_all"],
            LIST_TARGET,
        ),
        Row(
            "sessions",
            f"list newest {PAGE} of {n}, no summary cache yet (library)",
            "read every file's bytes",
            "ms",
            heavy["cold"],
            heavy["read_all"],
            LIST_TARGET,
        ),
        *cli,
        Row(
            "sessions",
            f"resume lookup by 8-hex prefix among {n} (library `store.get`)",
            "`os.listdir` of the directory",
            "ms",
            light["lookup"],
            light["listdir"],
            LOOKUP_TARGET,
        ),
    ]


def _cli_rows(ctx: Context, home: Path, rounds: int, samples: int) -> list[Row]:
    env = ctx.clean_env("sessions-cli")
    env["CLINVK_HOME"] = str(home)
    argv = [str(clinvk_script()), "sessions", "list", "-n", str(PAGE)]
    check = run_timed(argv, env=env, capture=True, timeout=60)
    if check.rc != 0:
        raise RuntimeError(
            f"clinvk sessions list failed ({check.rc}): {check.stderr.decode()[-400:]}"
        )
    times = interleave(
        {
            "python": lambda: run_timed([sys.executable, "-c", "pass"], env=env).seconds,
            "list": lambda: run_timed(argv, env=env, timeout=60).seconds,
        },
        rounds=rounds,
        samples=samples,
    )
    return [
        Row(
            "sessions",
            f"`clinvk sessions list -n {PAGE}` (process, first page newest first)",
            "`python -c pass`",
            "ms",
            times["list"],
            times["python"],
            LIST_TARGET,
        )
    ]
