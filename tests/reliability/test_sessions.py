"""Sessions under stress: concurrent writers, a read-only or full disk, corrupt files, kill -9.

Whatever happens, a session is never lost or half-written, and every failure tells the user
what happened and what to do.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reliability.conftest import server_config
from reliability.support import confine
from reliability.support.server import ServerProcess
from reliability.support.world import World

STATES = ("read-only", "full")
REASONS = {
    "read-only": r"read-only|permission denied",
    "full": r"disk is full|too large|quota",
}


def new_session(world: World, prompt: str = "turn 0") -> str:
    rc, out, err = world.clinvk("-b", "claude", "--new", "-o", "json", prompt)
    assert rc == 0, err
    session_id: str = json.loads(out)["clinvk_session_id"]
    return session_id


def stored(world: World, session_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((world.sessions_dir / f"{session_id}.json").read_bytes())
    return data


def debris(world: World) -> list[str]:
    """Temporary and lock files left in the session directory."""
    return sorted(
        p.name
        for p in world.sessions_dir.iterdir()
        if p.name.startswith(".tmp-") or p.name.endswith(".lock")
    )


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, err
    return errors[0]


# -- many writers --------------------------------------------------------------------------------


def test_concurrent_cli_processes_and_the_server_lose_no_turn(world: World) -> None:
    with ServerProcess(world, config=server_config()) as server:
        session_id = new_session(world)

        def by_cli(n: int) -> str:
            rc, out, err = world.clinvk("resume", session_id, "-o", "json", f"cli turn {n}")
            assert rc == 0, err
            content: str = json.loads(out)["content"]
            return content

        def by_api(n: int) -> str:
            with server.client() as c:
                r = c.post(f"/api/v1/sessions/{session_id}/resume", json={"prompt": f"api {n}"})
            assert r.status_code == 200, r.text
            output: str = r.json()["output"]
            return output

        with ThreadPoolExecutor(16) as pool:
            cli = [pool.submit(by_cli, n) for n in range(8)]
            api = [pool.submit(by_api, n) for n in range(8)]
            answers = [f.result() for f in cli + api]
    assert answers == [f"echo: cli turn {n}" for n in range(8)] + [
        f"echo: api {n}" for n in range(8)
    ]
    session = stored(world, session_id)
    assert session["turn_count"] == 17
    assert session["token_usage"]["input_tokens"] == 17 * 3
    assert session["status"] == "completed"
    assert debris(world) == []


# -- a disk that refuses writes ------------------------------------------------------------------


def run_confined(world: World, state: str, *args: str) -> tuple[int, str, str]:
    """``clinvk ARGS`` with the session directory made ``state`` (read-only or full) for it.

    Skips the test where that cannot be simulated; the directory is writable again after.
    """
    if confine.how(state) is None:
        pytest.skip(f"cannot simulate a {state} directory here (needs root or mount namespaces)")
    try:
        return world.clinvk(*args, wrap=lambda argv: confine.wrap(argv, world.sessions_dir, state))
    finally:
        world.sessions_dir.chmod(0o700)


@pytest.mark.parametrize("state", STATES)
def test_a_new_run_is_refused_when_its_session_cannot_be_saved(world: World, state: str) -> None:
    kept = new_session(world)
    before = (world.sessions_dir / f"{kept}.json").read_bytes()
    rc, out, err = run_confined(
        world, state, "-b", "claude", "--new", "-o", "text", "a fresh question"
    )
    line = one_error_line(err)
    assert rc == 5, err
    assert "cannot save session" in line
    assert re.search(REASONS[state], line, re.I), line
    assert out == ""
    assert not [c for c in world.calls() if "a fresh question" in c["prompt"]]  # never started
    assert (world.sessions_dir / f"{kept}.json").read_bytes() == before
    assert debris(world) == []


@pytest.mark.parametrize("state", STATES)
def test_a_resumed_session_survives_a_disk_that_refuses_writes(world: World, state: str) -> None:
    session_id = new_session(world)
    before = (world.sessions_dir / f"{session_id}.json").read_bytes()
    rc, out, _err = run_confined(world, state, "resume", session_id, "-o", "text", "a follow-up")
    assert "echo: a follow-up" in out  # the answer is not lost
    assert (world.sessions_dir / f"{session_id}.json").read_bytes() == before  # nor the session
    assert debris(world) == []
    rc, out, err = world.clinvk("resume", session_id, "-o", "json", "once the disk is back")
    assert rc == 0, err
    assert stored(world, session_id)["turn_count"] == 2


@pytest.mark.parametrize("state", STATES)
def test_a_turn_that_cannot_be_saved_says_so(world: World, state: str) -> None:
    session_id = new_session(world)
    _rc, out, err = run_confined(world, state, "resume", session_id, "-o", "text", "a follow-up")
    assert out == "echo: a follow-up\n"
    (warning,) = [line for line in err.splitlines() if line.startswith("Warning [claude]:")]
    assert f"not saved in session {session_id[:8]}" in warning
    assert re.search(REASONS[state], warning, re.I), warning


# -- a damaged file ------------------------------------------------------------------------------

CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "binary": lambda good: b"\xff\xfe\x00\x01garbage\x00",
    "empty": lambda good: b"",
    "wrong_types": lambda good: json.dumps({"id": 5, "backend": ["claude"]}).encode(),
    "array": lambda good: b"[1, 2, 3]",
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_session_file_is_reported_and_nothing_else_breaks(
    world: World, corruption: str
) -> None:
    good = new_session(world, "a healthy conversation")
    bad = new_session(world, "a conversation about to be damaged")
    path = world.sessions_dir / f"{bad}.json"
    path.write_bytes(CORRUPTIONS[corruption](path.read_bytes()))

    rc, out, err = world.clinvk("sessions", "list", "-o", "json")
    assert rc == 0, err
    assert [s["id"] for s in json.loads(out)["sessions"]] == [good]
    warnings = [line for line in err.splitlines() if line.startswith("Warning")]
    assert len(warnings) == 1
    assert f"{bad}.json" in warnings[0]

    for args in (("sessions", "show", bad), ("resume", bad, "go on")):
        rc, _out, err = world.clinvk(*args)
        line = one_error_line(err)
        assert rc == 5
        assert "damaged" in line
        assert f"clinvk sessions delete {bad}" in line

    rc, out, err = world.clinvk("resume", good, "-o", "json", "still fine?")
    assert rc == 0, err
    assert json.loads(out)["content"] == "echo: still fine?"

    with ServerProcess(world, config=server_config()) as server, server.client() as c:
        listed = c.get("/api/v1/sessions")
        one = c.get(f"/api/v1/sessions/{bad}")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["sessions"]] == [good]
    assert one.status_code == 500
    assert "damaged" in one.json()["error"]["message"]

    rc, _out, err = world.clinvk("sessions", "delete", bad)
    assert rc == 0, err
    assert not path.exists()


# -- kill -9 in the middle of a save -------------------------------------------------------------

PADDING_BYTES = 32 * 1024 * 1024
"""Makes each save write (and fsync) 32 MiB, so a kill can land in the middle of one."""


def kill_during_save(world: World, session_id: str, prompt: str) -> bool:
    """Start ``clinvk resume`` and SIGKILL it as soon as its temporary file appears."""
    proc = world.popen_clinvk("resume", session_id, "-o", "json", prompt)
    killed = False
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if any(name.startswith(".tmp-") for name in os.listdir(world.sessions_dir)):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait(30)
    return killed


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_save_loses_nothing(world: World) -> None:
    session_id = new_session(world)
    path = world.sessions_dir / f"{session_id}.json"
    padded = stored(world, session_id)
    padded["metadata"] = {"padding": "x" * PADDING_BYTES}
    path.write_text(json.dumps(padded), encoding="utf-8")
    before = stored(world, session_id)

    hits = sum(kill_during_save(world, session_id, f"doomed turn {n}") for n in range(3))
    assert hits >= 1, "clinvk was never caught in the middle of a save"
    after = stored(world, session_id)  # parses: never half-written
    assert after["turn_count"] == before["turn_count"]  # the killed turns were not recorded
    assert after["metadata"] == before["metadata"]

    rc, out, err = world.clinvk("sessions", "list", "-o", "json")
    assert rc == 0, err
    assert [s["id"] for s in json.loads(out)["sessions"]] == [session_id]
    assert "Warning" not in err  # a crashed writer's temporary file is not a session

    rc, out, err = world.clinvk("resume", session_id, "-o", "json", "after the crash")
    assert rc == 0, err  # the dead writer's lock does not block the next one
    assert stored(world, session_id)["turn_count"] == before["turn_count"] + 1

    an_hour_ago = time.time() - 7200
    for name in debris(world):
        os.utime(world.sessions_dir / name, (an_hour_ago, an_hour_ago))
    rc, _out, err = world.clinvk("sessions", "clean")
    assert rc == 0, err
    assert debris(world) == []
    assert path.exists()
