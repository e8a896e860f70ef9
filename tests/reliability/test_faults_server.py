"""A misbehaving backend CLI behind ``clinvk serve``: on every API family, streamed or not, the
client is told what went wrong, on time, and the CLI's process group is gone.

One real server (``clinvk serve`` as a process, run timeout 1 s) serves the whole module; the
fake ``claude`` misbehaves as each request's prompt tells it to.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from reliability.conftest import GRACE_S, server_config
from reliability.faults import DEADLINE_S, FAULTS, MAX_ERROR_BYTES, QUICK_S
from reliability.support.families import FAMILIES, ask
from reliability.support.procs import wait_until
from reliability.support.rawhttp import send_request
from reliability.support.server import API_KEY, ServerProcess
from reliability.support.world import World

MAX_BODY_BYTES = 64 * 1024
"""A failed response stays small, however much the CLI printed."""


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("family", FAMILIES)
def test_every_api_family_reports_a_faulty_cli(
    fault_server: ServerProcess, family: str, fault: str, stream: bool
) -> None:
    expected = FAULTS[fault]
    token = uuid.uuid4().hex
    with fault_server.client() as client:
        answer = ask(client, family, f"look at {token} FAULT:{fault}", stream=stream)
    assert answer.error is not None, f"the client was not told about the {fault}: {answer}"
    assert re.search(expected.message, answer.error, re.I), answer.error
    assert len(answer.error) < MAX_ERROR_BYTES
    assert answer.body_bytes < MAX_BODY_BYTES
    if not stream and family != "native":
        assert answer.status >= 500, f"a failed run answered HTTP {answer.status}"
    assert answer.status < 600
    assert answer.elapsed < (DEADLINE_S if expected.waits else QUICK_S), f"{answer.elapsed:.1f}s"
    fault_server.world.assert_gone(fault_server.world.call_with(token))


@pytest.mark.parametrize("family", FAMILIES)
def test_the_server_still_answers_after_the_faults(
    fault_server: ServerProcess, family: str
) -> None:
    token = uuid.uuid4().hex
    with fault_server.client() as client:
        plain = ask(client, family, f"hello {token}", stream=False)
        streamed = ask(client, family, f"hello again {token}", stream=True)
        assert client.get("/health").status_code == 200
    assert (plain.status, plain.text, plain.error) == (200, f"echo: hello {token}", None)
    assert streamed.text == f"echo: hello again {token}"
    assert streamed.error is None
    assert streamed.complete
    assert fault_server.running


def test_a_parallel_run_reports_each_fault_and_leaves_no_process(
    fault_server: ServerProcess,
) -> None:
    token = uuid.uuid4().hex
    faults = {"claude": "", "codex": " FAULT:hang", "gemini": " FAULT:crash"}
    tasks = [{"backend": b, "prompt": f"{token} {b}{f}"} for b, f in faults.items()]
    tasks.append({"backend": "claude", "prompt": f"{token} stubborn FAULT:noterm"})
    with fault_server.client() as client:
        answer = client.post("/api/v1/parallel", json={"tasks": tasks})
    assert answer.status_code == 200, answer.text
    results = sorted(answer.json()["results"], key=lambda r: r["index"])
    assert [r["status"] for r in results] == ["completed", "failed", "failed", "failed"]
    assert results[0]["output"] == f"echo: {token} claude"
    assert "timed out" in results[1]["error"]
    assert "segmentation fault" in results[2]["error"]
    assert "timed out" in results[3]["error"]
    world = fault_server.world
    for call in [c for c in world.calls() if token in c["prompt"]]:
        world.assert_gone(call)


@pytest.mark.parametrize("path", ["/api/v1/parallel", "/api/v1/prompt"])
def test_a_client_that_hangs_up_stops_the_clis_long_before_the_timeout(
    world: World, path: str
) -> None:
    token = uuid.uuid4().hex
    prompts = [f"{token} {n} FAULT:noterm" for n in range(3)]
    if path == "/api/v1/prompt":
        body: dict[str, object] = {"backend": "claude", "prompt": prompts[0]}
        prompts = prompts[:1]
    else:
        body = {"tasks": [{"backend": "claude", "prompt": p} for p in prompts]}
    with ServerProcess(world, config=server_config(request_timeout_secs=600)) as server:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        with send_request(server.url, "POST", path, auth, json.dumps(body).encode()):
            wait_until(lambda: len(world.calls()) == len(prompts), what="the CLIs to start")
        # the client went away without waiting for the answer
        began = time.monotonic()
        calls = world.calls()
        wait_until(
            lambda: not any(world.leftovers(c) for c in calls),
            timeout=GRACE_S + 5,
            what="the CLIs of the abandoned request to be stopped",
        )
        assert time.monotonic() - began < GRACE_S + 5
        assert server.running
