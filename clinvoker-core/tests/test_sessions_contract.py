"""The behaviour every session store must have, checked on the file store and on a plugin's
in-memory store, so a store plugin can be written against the interface alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clinvoker.errors import SessionNotFound
from clinvoker.session_files import FileSessionStore
from clinvoker.sessions import Session, SessionStore
from plugins.clinvk_test_store import MemoryStore


@pytest.fixture(params=["files", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionStore:
    return FileSessionStore(tmp_path / "sessions") if request.param == "files" else MemoryStore()


def aged(
    store: SessionStore,
    hours: float,
    backend: str = "claude",
    owner: str | None = None,
    **fields: object,
) -> Session:
    session = store.create(backend=backend, owner=owner)

    def change(s: Session) -> None:
        s.last_used = datetime.now(UTC) - timedelta(hours=hours)
        for name, value in fields.items():
            setattr(s, name, value)

    return store.update(session.id, change)


def test_create_get_update_delete(store: SessionStore) -> None:
    session = store.create(backend="codex", workdir="/src", initial_prompt="hi", tags=["t"])
    assert store.get(session.id[:5]) == session
    updated = store.update(session.id, lambda s: setattr(s, "turn_count", s.turn_count + 1))
    assert updated.turn_count == 1
    assert store.get(session.id).turn_count == 1
    assert store.count() == 1
    assert store.delete(session.id) == session.id
    with pytest.raises(SessionNotFound):
        store.get(session.id)
    assert store.count() == 0


def test_listing_order_filters_pages_and_owners(store: SessionStore) -> None:
    a = aged(store, 3, backend="claude", owner="alice")
    b = aged(store, 2, backend="codex", owner="bob", backend_session_id="t-1")
    c = aged(store, 1, backend="claude", owner="alice", backend_session_id="s-1")
    assert [s.id for s in store.list()[0]] == [c.id, b.id, a.id]
    assert store.list(limit=1, offset=1)[0][0].id == b.id
    assert store.list(limit=1)[1] == 3
    assert [s.id for s in store.list(backend="claude")[0]] == [c.id, a.id]
    assert [s.id for s in store.list(owner="alice")[0]] == [c.id, a.id]
    with pytest.raises(SessionNotFound):
        store.get(b.id, owner="alice")
    latest = store.latest_resumable(owner="bob")
    assert latest is not None
    assert latest.id == b.id
    assert store.count(owner="alice") == 2


def test_prune_keeps_everything_for_zero(store: SessionStore) -> None:
    for hours in (1, 24 * 40, 24 * 50):
        aged(store, hours)
    assert store.prune(older_than_days=0) == 0
    assert store.prune(keep=0) == 0
    assert store.prune(older_than_days=30) == 2
    assert store.count() == 1
