"""The file session store: records, lookup, listing, owners, pruning and damaged files."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clinvoker.config import load_config
from clinvoker.errors import AmbiguousSession, SessionError, SessionNotFound, ValidationError
from clinvoker.plugins import PluginHost
from clinvoker.result import Result, Usage
from clinvoker.session_files import FileSessionStore
from clinvoker.sessions import Session, open_store

NOW = datetime.now(UTC)


@pytest.fixture
def store(tmp_path: Path) -> FileSessionStore:
    return FileSessionStore(tmp_path / "sessions")


def add(
    store: FileSessionStore,
    *,
    backend: str = "claude",
    age_hours: float = 0,
    session_id: str | None = None,
    **fields: object,
) -> Session:
    """A session last used ``age_hours`` ago."""
    session = store.create(backend=backend, workdir=str(fields.pop("workdir", "/src/app")))
    when = NOW - timedelta(hours=age_hours)

    def change(s: Session) -> None:
        s.last_used = when
        s.created_at = when
        for name, value in fields.items():
            setattr(s, name, value)

    store.update(session.id, change)
    if session_id is not None:  # give it a chosen id (to build prefix collisions)
        moved = store.get(session.id)
        store.delete(session.id)
        moved.id = session_id
        store.save(moved)
        return moved
    return store.get(session.id)


# -- records -----------------------------------------------------------------------------------


def test_a_new_session_is_a_private_json_file_with_the_go_field_names(
    store: FileSessionStore,
) -> None:
    session = store.create(
        backend="claude",
        workdir="/src/app",
        model="sonnet",
        initial_prompt="fix the failing test",
        tags=["cli", "cli", "work"],
        metadata={"ticket": "T-1"},
    )
    assert len(session.id) == 32
    assert int(session.id, 16) >= 0
    path = store.root / f"{session.id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["id"] == session.id
    assert data["backend"] == "claude"
    assert data["working_dir"] == "/src/app"
    assert data["initial_prompt"] == "fix the failing test"
    assert data["status"] == "active"
    assert data["tags"] == ["cli", "work"]
    assert data["metadata"] == {"ticket": "T-1"}
    assert datetime.fromisoformat(data["created_at"]) == session.created_at
    assert store.get(session.id) == session


def test_sessions_written_by_the_go_tool_are_read(store: FileSessionStore) -> None:
    store.root.mkdir(parents=True)
    legacy = {
        "id": "0123456789abcdef",
        "backend": "codex",
        "created_at": "2026-01-30T09:00:00.123456789+01:00",
        "last_used": "2026-01-31T10:00:00.5+01:00",
        "working_dir": "",
        "backend_session_id": "thread-1",
        "status": "completed",
        "turn_count": 3,
        "token_usage": {"input_tokens": 10, "output_tokens": 5},
        "metadata": {"source": "api"},
    }
    (store.root / "0123456789abcdef.json").write_text(json.dumps(legacy, indent=2))
    (store.root / "index.json").write_text('{"version":1,"index":{}}')  # the Go tool's own index
    (store.root / "store.lock").write_text("")
    session = store.get("0123")
    assert session.turn_count == 3
    assert session.token_usage == Usage(input_tokens=10, output_tokens=5)
    assert session.last_used == datetime(2026, 1, 31, 9, 0, 0, 500000, tzinfo=UTC)
    assert session.resumable
    sessions, total = store.list()
    assert (total, sessions[0].id) == (1, "0123456789abcdef")
    assert store.problems == []


def test_record_turn_accumulates_a_conversation() -> None:
    session = Session(id="a" * 32, backend="claude", created_at=NOW, last_used=NOW)
    first = Result(
        backend="claude",
        content="hi",
        session_id="sess-1",
        model="claude-sonnet",
        usage=Usage(input_tokens=100, output_tokens=10, cached_tokens=80),
        cost_usd=0.01,
        backend_state={"cursor": 1},
    )
    later = NOW + timedelta(minutes=5)
    session.record_turn(first, now=later)
    assert session.last_used == later
    session.record_turn(Result(backend="claude", error="rate limited", exit_code=1))
    assert session.turn_count == 2
    assert session.token_usage == Usage(input_tokens=100, output_tokens=10, cached_tokens=80)
    assert session.cost_usd == pytest.approx(0.01)
    assert (session.backend_session_id, session.model) == ("sess-1", "claude-sonnet")
    assert session.backend_state == {"cursor": 1}
    assert (session.status, session.error_message) == ("error", "rate limited")
    assert session.last_used >= NOW
    session.record_turn(
        Result(backend="claude", usage=Usage(input_tokens=1)), store_token_usage=False
    )
    assert (session.status, session.error_message) == ("completed", None)
    assert session.token_usage.input_tokens == 100


def test_display_name_prefers_title_then_prompt_then_short_id() -> None:
    session = Session(id="ab" * 16, backend="claude", created_at=NOW, last_used=NOW)
    assert session.display_name == "abababab"
    session.initial_prompt = "x" * 60
    assert session.display_name == "x" * 47 + "..."
    session.title = "Refactor"
    assert session.display_name == "Refactor"


# -- lookup ------------------------------------------------------------------------------------


def test_get_accepts_a_unique_prefix_and_explains_misses(store: FileSessionStore) -> None:
    a = add(store, session_id="abc1" + "0" * 28, initial_prompt="first")
    add(store, session_id="abc2" + "0" * 28, initial_prompt="second")
    assert store.get("abc1").id == a.id
    assert store.get(a.id.upper()).id == a.id
    with pytest.raises(SessionNotFound) as missing:
        store.get("fff")
    assert str(missing.value) == "no session matches 'fff' (see `clinvk sessions list`)"
    with pytest.raises(AmbiguousSession) as ambiguous:
        store.get("abc")
    message = str(ambiguous.value)
    assert "'abc' matches 2 sessions" in message
    assert "abc1" + "0" * 28 in message
    assert "abc2" + "0" * 28 in message
    assert message.endswith("Give more characters of the id.")


@pytest.mark.parametrize("bad", ["../../etc/passwd", "", "xyz", "abc/def", "..", " "])
def test_get_rejects_anything_but_hex(store: FileSessionStore, bad: str) -> None:
    add(store)
    with pytest.raises(SessionNotFound, match="no session matches"):
        store.get(bad)


def test_an_exact_legacy_id_wins_over_longer_ids_it_prefixes(store: FileSessionStore) -> None:
    short = add(store, session_id="0123456789abcdef")
    add(store, session_id="0123456789abcdef" + "0" * 16)
    assert store.get("0123456789abcdef").id == short.id


# -- update ------------------------------------------------------------------------------------


def test_update_changes_and_returns_the_saved_session(store: FileSessionStore) -> None:
    session = add(store)

    def tag(s: Session) -> None:
        s.tags.append("reviewed")
        s.turn_count += 1

    updated = store.update(session.id[:10], tag)
    assert updated.tags == ["reviewed"]
    assert updated.turn_count == 1
    assert store.get(session.id) == updated


def test_a_failing_update_changes_nothing(store: FileSessionStore) -> None:
    session = add(store)
    before = (store.root / f"{session.id}.json").read_bytes()

    def boom(s: Session) -> None:
        s.turn_count = 99
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store.update(session.id, boom)
    assert (store.root / f"{session.id}.json").read_bytes() == before
    with pytest.raises(ValidationError, match="may not change a session's id"):
        store.update(
            session.id, lambda s: Session(id="b" * 32, backend="x", created_at=NOW, last_used=NOW)
        )
    with pytest.raises(SessionNotFound):
        store.update("f" * 32, lambda s: None)
    assert os.listdir(store.root) == [f"{session.id}.json"]  # no lock or temporary files left


# -- listing -----------------------------------------------------------------------------------


def test_list_is_newest_first_with_filters_and_pages(store: FileSessionStore) -> None:
    old = add(store, backend="codex", age_hours=72, status="completed", workdir="/src/api")
    mid = add(store, backend="claude", age_hours=5, status="error", tags=["nightly"])
    new = add(store, backend="claude", age_hours=1, status="completed", model="opus")

    def ids(sessions: list[Session]) -> list[str]:
        return [s.id for s in sessions]

    sessions, total = store.list()
    assert (ids(sessions), total) == ([new.id, mid.id, old.id], 3)
    assert store.list(limit=1, offset=1) == ([mid], 3)
    assert store.list(limit=0)[1] == 3
    assert ids(store.list(backend="claude")[0]) == [new.id, mid.id]
    assert ids(store.list(status="completed")[0]) == [new.id, old.id]
    assert ids(store.list(workdir="/src/api/")[0]) == [old.id]
    assert ids(store.list(since=NOW - timedelta(hours=6))[0]) == [new.id, mid.id]
    assert ids(store.list(tag="nightly")[0]) == [mid.id]
    assert ids(store.list(model="opus")[0]) == [new.id]
    assert store.list(backend="gemini") == ([], 0)
    with pytest.raises(ValidationError):
        store.list(limit=-1)


def test_an_empty_or_missing_store_lists_nothing(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "never-created")
    assert store.list() == ([], 0)
    assert store.count() == 0
    assert store.latest_resumable() is None
    assert store.prune(older_than_days=1) == 0
    assert not store.root.exists()


def test_latest_resumable_needs_a_backend_conversation(store: FileSessionStore) -> None:
    add(store, age_hours=0)  # newest, but the backend never reported a conversation id
    older = add(store, age_hours=2, backend_session_id="s-2")
    codex = add(store, backend="codex", age_hours=3, backend_session_id="t-3", workdir="/src/api")
    assert store.latest_resumable() == older
    assert store.latest_resumable(backend="codex") == codex
    assert store.latest_resumable(workdir="/src/api") == codex
    assert store.latest_resumable(backend="gemini") is None


def test_owners_only_see_their_own_sessions(store: FileSessionStore) -> None:
    alice = add(store, owner="alice", backend_session_id="a-1", age_hours=1)
    bob = add(store, owner="bob", backend_session_id="b-1", age_hours=0)
    local = add(store, age_hours=2)
    assert store.get(alice.id, owner="alice") == alice
    with pytest.raises(SessionNotFound, match="no session matches"):
        store.get(bob.id, owner="alice")
    with pytest.raises(SessionNotFound):
        store.get(bob.id[:6], owner="alice")
    assert store.list(owner="alice") == ([alice], 1)
    assert store.latest_resumable(owner="alice") == alice
    assert store.count(owner="bob") == 1
    with pytest.raises(SessionNotFound):
        store.delete(bob.id, owner="alice")
    assert store.get(bob.id) == bob
    assert {s.id for s in store.list()[0]} == {alice.id, bob.id, local.id}


# -- delete and prune --------------------------------------------------------------------------


def test_delete_removes_the_session_and_its_artifacts(store: FileSessionStore) -> None:
    session = add(store)
    (store.root / session.id).mkdir()
    (store.root / session.id / "output.txt").write_text("artifact")
    assert store.delete(session.id[:8]) == session.id
    assert not (store.root / session.id).exists()
    assert store.count() == 0
    with pytest.raises(SessionNotFound):
        store.delete(session.id)


def test_prune_by_age_and_count_never_deletes_everything_for_zero(store: FileSessionStore) -> None:
    sessions = [add(store, age_hours=24 * days) for days in (0, 1, 10, 40, 100)]
    assert store.prune(older_than_days=0) == 0  # 0 = keep forever (the Go tool deleted all)
    assert store.prune(keep=0) == 0
    assert store.prune() == 0
    assert store.count() == 5
    assert store.prune(older_than_days=30) == 2
    assert {s.id for s in store.list()[0]} == {s.id for s in sessions[:3]}
    assert store.prune(keep=2) == 1
    assert [s.id for s in store.list()[0]] == [sessions[0].id, sessions[1].id]
    with pytest.raises(ValidationError):
        store.prune(older_than_days=-1)


def test_prune_spares_a_session_used_again_since_it_looked(store: FileSessionStore) -> None:
    stale = add(store, age_hours=24 * 90)
    other = FileSessionStore(store.root)  # another process
    assert store.list()[1] == 1  # this store has seen it old
    other.update(stale.id, lambda s: setattr(s, "last_used", datetime.now(UTC)))
    assert store.prune(older_than_days=30) == 0
    assert store.count() == 1


def test_prune_sweeps_what_crashed_writers_left_behind(store: FileSessionStore) -> None:
    session = add(store)
    crashed_write = store.root / ".tmp-abc123.json"
    crashed_lock = store.root / f".{session.id}.lock"
    in_progress = store.root / ".tmp-def456.json"
    for path in (crashed_write, crashed_lock, in_progress):
        path.write_text("{")
    an_hour_ago = time.time() - 7200
    for path in (crashed_write, crashed_lock):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert store.prune(older_than_days=30) == 0
    assert not crashed_write.exists()
    assert not crashed_lock.exists()
    assert in_progress.exists()  # may belong to a writer still running
    assert store.get(session.id) == session


# -- damaged and foreign files -----------------------------------------------------------------


def test_damaged_and_foreign_files_are_reported_and_skipped(store: FileSessionStore) -> None:
    good = add(store)
    (store.root / ("b" * 32 + ".json")).write_text('{"id": "bbb", "backend": ')  # truncated
    (store.root / ("c" * 32 + ".json")).write_text('{"hello": "world"}')  # foreign JSON
    (store.root / ("d" * 32 + ".json")).write_text(
        json.dumps({**json.loads((store.root / f"{good.id}.json").read_text()), "id": "e" * 32})
    )
    (store.root / "notes.json").write_text("{}")
    sessions, total = store.list()
    assert ([s.id for s in sessions], total) == ([good.id], 1)
    problems = {p.file: p.reason for p in store.problems}
    assert set(problems) == {
        "b" * 32 + ".json",
        "c" * 32 + ".json",
        "d" * 32 + ".json",
        "notes.json",
    }
    assert "not a valid session file" in problems["b" * 32 + ".json"]
    assert "missing required field" in problems["c" * 32 + ".json"]
    assert "does not match the file name" in problems["d" * 32 + ".json"]
    with pytest.raises(SessionError) as damaged:
        store.get("b" * 32)
    assert "is damaged" in str(damaged.value)
    assert f"clinvk sessions delete {'b' * 32}" in str(damaged.value)
    assert store.delete("b" * 32) == "b" * 32  # damaged files can still be deleted
    assert store.get("a" if good.id.startswith("a") else good.id[:4]) == good


def test_the_listing_cache_notices_changes_by_other_processes(store: FileSessionStore) -> None:
    a = add(store, age_hours=2)
    b = add(store, age_hours=1)
    assert [s.id for s in store.list()[0]] == [b.id, a.id]
    other = FileSessionStore(store.root)
    other.update(a.id, lambda s: setattr(s, "last_used", datetime.now(UTC)))
    c = other.create(backend="gemini")
    other.delete(b.id)
    assert [s.id for s in store.list()[0]] == [c.id, a.id]
    assert store.list(backend="gemini")[1] == 1


def test_a_corrupt_cache_is_rebuilt(store: FileSessionStore) -> None:
    a = add(store)
    store.list()
    cache = store.root / ".cache" / "summaries.msgpack"
    cache.write_bytes(b"\x00garbage")
    assert FileSessionStore(store.root).list() == ([a], 1)
    assert cache.read_bytes() != b"\x00garbage"


def test_a_settled_store_lists_from_the_cache_and_still_sees_new_writes(
    store: FileSessionStore,
) -> None:
    old = add(store, age_hours=3)
    settled = time.time() - 3600  # nothing has touched the directory for an hour
    os.utime(store.root, (settled, settled))
    assert store.list() == ([old], 1)
    assert FileSessionStore(store.root).list() == ([old], 1)
    newer = FileSessionStore(store.root).create(backend="gemini")
    assert [s.id for s in store.list()[0]] == [newer.id, old.id]
    assert FileSessionStore(store.root).list(backend="gemini")[1] == 1


# -- opening -----------------------------------------------------------------------------------


def test_open_store_defaults_to_files_under_clinvk_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_HOME", str(tmp_path / "home"))
    store = open_store(load_config(), host=PluginHost(load_entry_points=False))
    assert isinstance(store, FileSessionStore)
    assert store.root == tmp_path / "home" / "sessions"
    created = store.create(backend="claude")
    assert (tmp_path / "home" / "sessions" / f"{created.id}.json").is_file()
    assert os.listdir(tmp_path / "home") == ["sessions"]
