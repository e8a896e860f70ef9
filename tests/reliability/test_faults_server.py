"""A misbehaving backend CLI behind ``clinvk serve``: on every API family, streamed or not, the
client is told what went wrong, on time, and the CLI's process group is gone.

One real server (``clinvk serve`` as a process, run timeout 1 s) serves the whole module; the
fake ``claude`` misbehaves as each request's prompt tells it to.
"""

from __future__ import annotations

import re
import uuid

import pytest

from reliability.faults import DEADLINE_S, FAULTS, MAX_ERROR_BYTES, QUICK_S
from reliability.support.families import FAMILIES, ask
from reliability.support.server import ServerProcess

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
