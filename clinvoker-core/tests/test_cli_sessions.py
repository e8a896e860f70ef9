"""``clinvk sessions list | show | delete | clean`` against a real store in a temporary home."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from clinvoker.cli.app import cli
from clinvoker.config import load_config
from clinvoker.sessions import Session, SessionStore, open_store

MakeSession = Callable[..., Session]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(os.environ):
        if var.startswith("CLINVK_"):
            monkeypatch.delenv(var)
    home = tmp_path / "home"
    monkeypatch.setenv("CLINVK_HOME", str(home))
    return home


@pytest.fixture
def store(home: Path) -> SessionStore:
    return open_store(load_config())


@pytest.fixture
def make(store: SessionStore) -> MakeSession:
    def make(
        backend: str = "claude",
        *,
        prompt: str = "hello",
        workdir: str = "/src/app",
        days_ago: float = 0,
        **fields: Any,
    ) -> Session:
        session = store.create(backend=backend, workdir=workdir, initial_prompt=prompt)
        when = datetime.now(UTC) - timedelta(days=days_ago)

        def change(s: Session) -> Session:
            s.last_used = when
            for key, value in fields.items():
                setattr(s, key, value)
            return s

        return store.update(session.id, change)

    return make


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_empty_store_says_no_sessions(home: Path) -> None:
    result = invoke("sessions", "list")
    assert result.exit_code == 0
    assert result.stdout == "No sessions found.\n"


def test_list_shows_a_table_newest_first(make: MakeSession) -> None:
    old = make("codex", prompt="the old one", days_ago=3)
    new = make("claude", prompt="the new one", status="completed")
    lines = invoke("sessions", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "BACKEND", "STATUS", "LAST", "USED", "TOKENS", "TITLE/PROMPT"]
    assert lines[1].startswith(new.id[:8])
    assert "completed" in lines[1]
    assert "just now" in lines[1]
    assert lines[2].startswith(old.id[:8])
    assert "3d ago" in lines[2]
    assert "the old one" in lines[2]


def test_list_filters_by_backend_status_workdir_and_since(make: MakeSession) -> None:
    a = make("claude", workdir="/a", days_ago=10)
    b = make("codex", workdir="/b", status="error")
    c = make("claude", workdir="/b", days_ago=1)

    def ids(*args: str) -> list[str]:
        data = json.loads(invoke("sessions", "list", "--json", *args).stdout)
        return [s["id"] for s in data["sessions"]]

    assert ids("-b", "claude") == [c.id, a.id]
    assert ids("--status", "error") == [b.id]
    assert ids("--workdir", "/b") == [b.id, c.id]
    assert ids("--since", "2d") == [b.id, c.id]
    assert ids("--backend", "codex") == [b.id]


def test_global_output_format_json_also_gives_json(make: MakeSession) -> None:
    s = make()
    data = json.loads(invoke("-o", "json", "sessions", "list").stdout)
    assert data["sessions"][0]["id"] == s.id
    assert json.loads(invoke("sessions", "show", s.id, "-o", "JSON").stdout)["id"] == s.id


def test_list_json_has_total_and_pagination(make: MakeSession) -> None:
    made = [make(prompt=f"p{i}", days_ago=i) for i in range(5)]
    data = json.loads(invoke("sessions", "list", "--json", "-n", "2", "--offset", "1").stdout)
    assert data["total"] == 5
    assert [s["id"] for s in data["sessions"]] == [made[1].id, made[2].id]
    assert data["sessions"][0]["initial_prompt"] == "p1"


def test_list_table_says_when_more_are_hidden(make: MakeSession) -> None:
    for i in range(3):
        make(prompt=f"p{i}")
    out = invoke("sessions", "list", "-n", "2").stdout
    assert "2 of 3 shown" in out


def test_bad_since_value_is_a_usage_error(home: Path) -> None:
    result = invoke("sessions", "list", "--since", "yesterdayish")
    assert result.exit_code == 2
    assert "--since" in result.stderr


def test_show_by_prefix_prints_labelled_lines(make: MakeSession) -> None:
    s = make("gemini", prompt="explain the build", model="gemini-2.5-pro", tags=["ci"])
    result = invoke("sessions", "show", s.id[:6])
    assert result.exit_code == 0
    out = result.stdout
    assert f"ID:                 {s.id}" in out
    assert "Backend:            gemini" in out
    assert "Model:              gemini-2.5-pro" in out
    assert "Working Directory:  /src/app" in out
    assert "Initial Prompt:     explain the build" in out
    assert "Tags:               ci" in out


def test_show_json_is_the_stored_session(make: MakeSession) -> None:
    s = make(backend_session_id="abc-123")
    data = json.loads(invoke("sessions", "show", s.id, "--json").stdout)
    assert data["id"] == s.id
    assert data["backend_session_id"] == "abc-123"


def test_unknown_session_exits_5_with_one_line(home: Path) -> None:
    result = invoke("sessions", "show", "abcdef")
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1


def test_ambiguous_prefix_exits_5(make: MakeSession) -> None:
    sessions = [make(prompt=str(i)) for i in range(40)]
    first = {s.id[0] for s in sessions}
    shared = next(c for c in first if sum(s.id.startswith(c) for s in sessions) > 1)
    result = invoke("sessions", "show", shared)
    assert result.exit_code == 5
    assert "ambiguous" in result.stderr.lower() or "matches" in result.stderr


def test_delete_removes_the_session(make: MakeSession, store: SessionStore) -> None:
    s = make()
    result = invoke("sessions", "delete", s.id[:8])
    assert result.exit_code == 0
    assert result.stdout == f"Session {s.id} deleted.\n"
    assert invoke("sessions", "show", s.id).exit_code == 5


def test_clean_deletes_sessions_older_than_the_flag(make: MakeSession) -> None:
    old = make(days_ago=10)
    new = make(days_ago=1)
    result = invoke("sessions", "clean", "--older-than", "7d")
    assert result.exit_code == 0
    assert result.stdout == "Deleted 1 session(s) older than 7 days.\n"
    assert invoke("sessions", "show", old.id).exit_code == 5
    assert invoke("sessions", "show", new.id).exit_code == 0


def test_clean_uses_retention_days_by_default(make: MakeSession, home: Path) -> None:
    make(days_ago=40)
    make(days_ago=1)
    result = invoke("sessions", "clean")
    assert result.stdout == "Deleted 1 session(s) older than 30 days.\n"


def test_clean_with_retention_zero_deletes_nothing(make: MakeSession, home: Path) -> None:
    kept = [make(days_ago=400), make(days_ago=0)]
    assert invoke("config", "set", "session.retention_days", "0").exit_code == 0
    result = invoke("sessions", "clean")
    assert result.exit_code == 0
    assert "Nothing to do" in result.stdout
    assert invoke("sessions", "clean", "--older-than", "0").stdout.startswith("Nothing to do")
    for s in kept:
        assert invoke("sessions", "show", s.id).exit_code == 0


def test_clean_keep_keeps_the_newest(make: MakeSession) -> None:
    made = [make(days_ago=i) for i in range(4)]
    result = invoke("sessions", "clean", "--keep", "2", "--older-than", "1000d")
    assert result.exit_code == 0
    assert "Deleted 2 session(s)" in result.stdout
    remaining = json.loads(invoke("sessions", "list", "--json").stdout)["sessions"]
    assert [s["id"] for s in remaining] == [made[0].id, made[1].id]


def test_clean_rejects_a_malformed_age(home: Path) -> None:
    result = invoke("sessions", "clean", "--older-than", "soon")
    assert result.exit_code == 2
    assert "--older-than" in result.stderr


def test_a_corrupt_session_file_is_reported_not_fatal(make: MakeSession, home: Path) -> None:
    make(prompt="good one")
    (home / "sessions" / ("0" * 32 + ".json")).write_text("{not json")
    result = invoke("sessions", "list")
    assert result.exit_code == 0
    assert "good one" in result.stdout
    assert "skipped session file 000000" in result.stderr
