"""The session store across real processes: concurrent updates, locks, full and read-only disks."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from clinvoker.session_files import FileSessionStore
from clinvoker.sessions import Session

WORKERS = 8
UPDATES = 200

# Each worker waits for "go" on stdin so that all of them hammer the session at once.
UPDATER = textwrap.dedent(
    """
    import sys
    from clinvoker.session_files import FileSessionStore

    root, session_id, me, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = FileSessionStore(root)
    sys.stdin.readline()
    for i in range(count):
        def bump(s, i=i):
            s.turn_count += 1
            s.tags.append(f"{me}-{i}")
        store.update(session_id, bump)
    """
)


def start_updater(root: Path, session_id: str, me: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", UPDATER, str(root), session_id, me, str(count)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> None:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err


@pytest.mark.slow
def test_concurrent_updates_from_many_processes_lose_nothing(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "sessions")
    session = store.create(backend="claude")
    procs = [start_updater(store.root, session.id, f"w{n}", UPDATES) for n in range(WORKERS)]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        finish(proc)
    final = store.get(session.id)
    assert final.turn_count == WORKERS * UPDATES
    assert len(final.tags) == WORKERS * UPDATES
    for n in range(WORKERS):  # each worker's updates landed, in its own order
        mine = [t for t in final.tags if t.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(UPDATES)]
    assert os.listdir(store.root) == [f"{session.id}.json"]  # lock and temp files cleaned up


def test_a_held_session_does_not_block_other_sessions(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "sessions")
    busy, free = store.create(backend="claude"), store.create(backend="codex")
    holding, release = threading.Event(), threading.Event()

    def slow_edit(s: Session) -> None:
        holding.set()
        assert release.wait(120)
        s.title = "slow edit"

    editor = threading.Thread(target=store.update, args=(busy.id, slow_edit))
    editor.start()
    try:
        assert holding.wait(60)
        other = start_updater(store.root, free.id, "other", 3)
        assert other.stdin is not None
        other.stdin.write("go\n")
        other.stdin.flush()
        finish(other, timeout=60)  # finishes while `busy` is still locked
        assert store.get(free.id).turn_count == 3
        assert editor.is_alive()
    finally:
        release.set()
        editor.join()
    assert store.get(busy.id).title == "slow edit"


def test_threads_of_one_process_exclude_each_other_too(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "sessions")
    session = store.create(backend="claude")

    def bump(s: Session) -> None:
        s.turn_count += 1

    def work() -> None:
        for _ in range(50):
            store.update(session.id, bump)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get(session.id).turn_count == 200


# -- when the disk refuses writes --------------------------------------------------------------

GROW = textwrap.dedent(
    """
    import json, resource, signal, sys
    from clinvoker.errors import SessionError
    from clinvoker.session_files import FileSessionStore

    store = FileSessionStore(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
    try:
        store.update(sys.argv[2], lambda s: s.metadata.update(blob="x" * 100_000))
    except SessionError as exc:
        print(json.dumps({"error": str(exc)}))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_write_that_fails_midway_leaves_the_old_session_intact(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "sessions")
    session = store.create(backend="claude", initial_prompt="keep me")
    path = store.root / f"{session.id}.json"
    before = path.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", GROW, str(store.root), session.id],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    message = json.loads(out.stdout)["error"]
    assert message.startswith(f"cannot save session {session.id} in {store.root}: File too large")
    assert path.read_bytes() == before
    assert os.listdir(store.root) == [path.name]


DISK_SCENARIO = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from clinvoker.errors import SessionError
    from clinvoker.session_files import FileSessionStore

    root = sys.argv[1]
    store = FileSessionStore(root + "/sessions")
    report = {}
    kept = store.create(backend="claude", initial_prompt="keep me")
    try:
        store.update(kept.id, lambda s: s.metadata.update(blob="x" * 200_000))
    except SessionError as exc:
        report["full"] = str(exc)
    report["after_full"] = store.get(kept.id).initial_prompt
    report["leftovers"] = sorted(os.listdir(root + "/sessions"))
    subprocess.run(["mount", "-o", "remount,ro", root], check=True)
    for name, action in {
        "create": lambda: store.create(backend="claude"),
        "update": lambda: store.update(kept.id, lambda s: None),
    }.items():
        try:
            action()
        except SessionError as exc:
            report[name] = str(exc)
    report["listed"] = store.list()[1]
    print(json.dumps(report))
    """
)


def _namespaces_available() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _namespaces_available(), reason="needs Linux user+mount namespaces (unshare -rm)"
)
def test_full_and_read_only_disks_give_clear_errors(tmp_path: Path) -> None:
    mount = tmp_path / "disk"
    mount.mkdir()
    scenario = tmp_path / "scenario.py"
    scenario.write_text(DISK_SCENARIO)
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(mount))} && "
        f"exec {shlex.join([sys.executable, str(scenario), str(mount)])}"
    )
    out = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "the disk is full" in report["full"]
    assert "Free some space" in report["full"]
    assert report["after_full"] == "keep me"
    assert len(report["leftovers"]) == 1  # no half-written temp file left behind
    for action in ("create", "update"):
        assert "the file system is read-only" in report[action]
        assert "Set CLINVK_HOME to a writable directory" in report[action]
    assert report["listed"] == 1  # reading still works
