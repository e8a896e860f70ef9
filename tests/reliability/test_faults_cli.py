"""A misbehaving backend CLI under ``clinvk``: every fault ends in one clear error, on time,
with the CLI's whole process group gone.

Each case runs the real ``clinvk`` console script against the fake ``claude``/``codex``/``gemini``
(:mod:`reliability.support.faulty_cli`) with ``--timeout 1``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
import uuid
from typing import Any

import pytest
from support.clis import Completed

from reliability.conftest import RUN_TIMEOUT_S
from reliability.faults import DEADLINE_S, FAULTS, MAX_ERROR_BYTES, QUICK_S
from reliability.support.procs import wait_until
from reliability.support.world import World

BACKENDS = ("claude", "codex", "gemini")


def run_fault(
    world: World, backend: str, fault: str, *extra: str
) -> tuple[dict[str, Any], Completed, float]:
    token = uuid.uuid4().hex
    prompt = f"summarise the repo {token} FAULT:{fault}"
    began = time.monotonic()
    done = world.clinvk(
        "-b", backend, "--new", "--timeout", str(RUN_TIMEOUT_S), *extra, prompt, timeout=60
    )
    elapsed = time.monotonic() - began
    return world.call_with(token), done, elapsed


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_faulty_cli_ends_in_one_clear_error(world: World, backend: str, fault: str) -> None:
    expected = FAULTS[fault]
    call, done, elapsed = run_fault(world, backend, fault, "-o", "text")
    rc, out, err = done
    assert rc == expected.exit_code, f"exit code {rc}; stderr:\n{err[-2000:]}"
    errors = [line for line in err.splitlines() if line.startswith(f"Error [{backend}]:")]
    assert len(errors) == 1, f"expected one error line, got:\n{err[-2000:]}"
    assert re.search(expected.message, errors[0], re.I), errors[0]
    assert "Traceback" not in err
    assert len(err.encode()) < MAX_ERROR_BYTES, "the CLI's noise was passed on to the user"
    assert len(out.encode()) < MAX_ERROR_BYTES
    assert elapsed < (DEADLINE_S if expected.waits else QUICK_S), f"took {elapsed:.1f}s"
    world.assert_gone(call)


@pytest.mark.parametrize("fault", ["crash", "noterm", "bigline"])
def test_the_json_result_names_the_failure(world: World, fault: str) -> None:
    _call, done, _ = run_fault(world, "claude", fault, "-o", "json")
    rc, out, _err = done
    result = json.loads(out)
    assert rc == FAULTS[fault].exit_code
    assert re.search(FAULTS[fault].message, result["error"], re.I)
    assert result["error_code"] in {"crashed", "timeout", "malformed_output"}
    assert len(result["error"]) < MAX_ERROR_BYTES


def test_a_crash_keeps_the_partial_answer_and_marks_the_session_failed(world: World) -> None:
    call, done, _ = run_fault(world, "claude", "crash", "-o", "json")
    result = json.loads(done.stdout)
    assert result["content"] == "partial ans"
    rc, out, err = world.clinvk("sessions", "show", result["clinvk_session_id"], "-o", "json")
    assert rc == 0, err
    session = json.loads(out)
    assert session["status"] == "error"
    assert "segmentation fault" in session["error_message"]
    world.assert_gone(call)


def test_kill_9_of_clinvk_leaves_no_cli_running(world: World) -> None:
    """clinvk's watchdog ends the CLI's whole group once clinvk is gone, however it died."""
    token = uuid.uuid4().hex
    proc = world.popen_clinvk("-b", "claude", "--new", f"wait forever {token} FAULT:hang")
    try:
        wait_until(lambda: any(token in c["prompt"] for c in world.calls()), what="the CLI")
        call = world.call_with(token)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        try:
            wait_until(lambda: not world.leftovers(call), timeout=5, what="the orphaned CLI to end")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(call["pgid"], signal.SIGKILL)  # clean up after ourselves either way
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
