"""Ten thousand sessions: the first page and a prefix lookup stay fast (budgets from the design)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from clinvoker.session_files import FileSessionStore
from clinvoker.sessions import Session, new_session_id

COUNT = 10_000
PAGE = 50


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Session]]:
    """A store directory with 10,000 session files written as the store writes them."""
    root = tmp_path_factory.mktemp("many") / "sessions"
    root.mkdir()
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sessions = []
    for i in range(COUNT):
        when = start + timedelta(seconds=rng.randrange(10_000_000))
        session = Session(
            id=new_session_id(),
            backend=("claude", "codex", "gemini")[i % 3],
            created_at=when,
            last_used=when,
            working_dir=f"/src/project-{i % 40}",
            initial_prompt=f"task number {i}: " + "explain the code " * 5,
            backend_session_id=f"native-{i}",
            tags=["bulk"],
        )
        data = msgspec.json.format(msgspec.json.encode(session), indent=2)
        (root / f"{session.id}.json").write_bytes(data)
        sessions.append(session)
    return root, sessions


@pytest.mark.slow
def test_first_page_of_ten_thousand_is_fast_and_right(many: tuple[Path, list[Session]]) -> None:
    root, sessions = many
    newest = sorted(sessions, key=lambda s: s.last_used, reverse=True)[:PAGE]

    start = time.perf_counter()
    page, total = FileSessionStore(root).list(limit=PAGE)  # first ever: builds the cache
    first = time.perf_counter() - start
    assert total == COUNT
    assert [s.id for s in page] == [s.id for s in newest]

    # every later listing, by a fresh process (new store object) or the same one
    fresh = best_of(3, lambda: FileSessionStore(root).list(limit=PAGE))
    same_store = FileSessionStore(root)
    again = best_of(3, lambda: same_store.list(limit=PAGE))
    filtered = best_of(
        3, lambda: same_store.list(backend="codex", workdir="/src/project-3", limit=PAGE)
    )
    assert fresh < 0.5, f"listing took {fresh:.3f}s"
    assert again < 0.5, f"listing took {again:.3f}s"
    assert filtered < 0.5, f"filtered listing took {filtered:.3f}s"
    assert first < 2.0, f"the first listing (reading every file once) took {first:.3f}s"


@pytest.mark.slow
def test_prefix_lookup_among_ten_thousand_is_fast(many: tuple[Path, list[Session]]) -> None:
    root, sessions = many
    store = FileSessionStore(root)
    wanted = sessions[1234]
    prefixes = {s.id[:8] for s in sessions}
    assert len(prefixes) == COUNT  # 8 hex characters are unique here
    assert store.get(wanted.id[:8]) == wanted
    took = best_of(3, lambda: store.get(wanted.id[:8]))
    assert took < 0.05, f"prefix lookup took {took * 1000:.1f} ms"
