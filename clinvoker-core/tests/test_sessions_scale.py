"""Ten thousand sessions: the first page, filters and prefix lookups stay right at scale.

Their speed is measured by the benchmarks (``nox -s bench``), never by timed tests.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from clinvoker.session_files import FileSessionStore
from clinvoker.sessions import Session, new_session_id

COUNT = 10_000
PAGE = 50


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
def test_first_page_of_ten_thousand_is_right(many: tuple[Path, list[Session]]) -> None:
    root, sessions = many
    newest = sorted(sessions, key=lambda s: s.last_used, reverse=True)
    page, total = FileSessionStore(root).list(limit=PAGE)  # first ever: builds the cache
    assert total == COUNT
    assert [s.id for s in page] == [s.id for s in newest[:PAGE]]

    # a fresh process (new store object) and the same store agree, page after page
    same_store = FileSessionStore(root)
    second, _ = same_store.list(limit=PAGE, offset=PAGE)
    assert [s.id for s in second] == [s.id for s in newest[PAGE : 2 * PAGE]]
    assert [s.id for s in FileSessionStore(root).list(limit=PAGE)[0]] == [s.id for s in page]

    filtered, matching = same_store.list(backend="codex", workdir="/src/project-3", limit=PAGE)
    expected = [s for s in newest if s.backend == "codex" and s.working_dir == "/src/project-3"]
    assert matching == len(expected)
    assert [s.id for s in filtered] == [s.id for s in expected[:PAGE]]


@pytest.mark.slow
def test_prefix_lookup_among_ten_thousand_finds_the_one(many: tuple[Path, list[Session]]) -> None:
    root, sessions = many
    store = FileSessionStore(root)
    counts = Counter(s.id[:8] for s in sessions)
    # random ids: pick one whose 8-hex prefix no other session shares (nearly all of them)
    wanted = next(s for s in sessions[1234:] if counts[s.id[:8]] == 1)
    assert store.get(wanted.id[:8]) == wanted
    assert store.get(wanted.id) == wanted
