"""Load: 500 requests from 50 concurrent clients, some hanging up mid-stream, some giving up,
some hitting the run timeout — and afterwards nothing is left behind.

The request mix is drawn from a seeded RNG, so a failure replays exactly. Checked afterwards:
every request that completed got exactly the right answer; no backend CLI (nor any child of
the server) is still running; the server holds no more file descriptors than before the load;
its memory is back near where it started.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import httpx
import pytest

from reliability.conftest import server_config
from reliability.support.families import FAMILIES, Answer, ask
from reliability.support.procs import children, fd_count, fd_targets, rss_kib, wait_until
from reliability.support.server import ServerProcess
from reliability.support.world import World

SEED = 20261125
REQUESTS = 500
CLIENTS = 50
SERVER_TIMEOUT_S = 2
RSS_SLACK_KIB = 40 * 1024
"""How far above its warmed-up size the server's memory may stay after the load."""

KINDS = {
    "ok": 55,  # a quick answer
    "slow": 10,  # 20 deltas, 0.02 s apart, read to the end
    "hang_up": 15,  # a slow stream the client closes after a few lines
    "give_up": 10,  # the client's read timeout fires before the answer is ready
    "run_timeout": 5,  # the CLI hangs: the server's run timeout ends it
    "crash": 5,  # the CLI dies mid-stream
}


class Job(NamedTuple):
    n: int
    kind: str
    family: str
    stream: bool
    token: str
    hang_up_after: int | None = None
    timeout: float | None = None

    @property
    def prompt(self) -> str:
        fault = {"slow": "slow", "hang_up": "slow", "give_up": "slow", "run_timeout": "hang"}
        marker = f" FAULT:{fault[self.kind]}" if self.kind in fault else ""
        if self.kind == "crash":
            marker = " FAULT:crash"
        return f"request {self.n} {self.token}{marker}"


def plan(rng: random.Random) -> list[Job]:
    kinds = [k for k, weight in KINDS.items() for _ in range(weight)]
    jobs = []
    for n in range(REQUESTS):
        kind = rng.choice(kinds)
        stream = kind == "hang_up" or (kind != "give_up" and rng.random() < 0.6)
        jobs.append(
            Job(
                n=n,
                kind=kind,
                family=rng.choice(FAMILIES),
                stream=stream,
                token=uuid.UUID(int=rng.getrandbits(128)).hex,
                hang_up_after=rng.randint(1, 6) if kind == "hang_up" else None,
                timeout=rng.uniform(0.05, 0.3) if kind == "give_up" else None,
            )
        )
    return jobs


class Outcome(NamedTuple):
    job: Job
    answer: Answer | None
    failure: str | None


def drive(server: ServerProcess, jobs: list[Job]) -> list[Outcome]:
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = server.client(timeout=30.0)
            with lock:
                clients.append(local.client)
        c: httpx.Client = local.client
        return c

    def one(job: Job) -> Outcome:
        try:
            answer = ask(
                client(),
                job.family,
                job.prompt,
                stream=job.stream,
                timeout=job.timeout,
                hang_up_after=job.hang_up_after,
            )
        except httpx.TimeoutException as exc:
            return Outcome(job, None, f"timeout: {exc!r}")
        except httpx.HTTPError as exc:
            return Outcome(job, None, f"http error: {exc!r}")
        return Outcome(job, answer, None)

    try:
        with ThreadPoolExecutor(CLIENTS, thread_name_prefix="load-client") as pool:
            return list(pool.map(one, jobs))
    finally:
        for c in clients:
            c.close()


def check(outcome: Outcome) -> Iterator[str]:
    """Why this outcome is wrong (nothing when it is right)."""
    job, answer = outcome.job, outcome.answer
    if job.kind == "give_up":
        if outcome.failure is None or not outcome.failure.startswith("timeout"):
            yield f"{job}: expected the client to time out, got {outcome}"
        return
    if answer is None:
        yield f"{job}: {outcome.failure}"
        return
    if job.kind in ("ok", "slow"):
        if answer.error is not None or answer.text != f"echo: {job.prompt}":
            yield f"{job}: wrong answer {answer}"
    elif job.kind == "run_timeout":
        if not re.search(rf"timed out after {SERVER_TIMEOUT_S}s", answer.error or ""):
            yield f"{job}: expected a timeout error, got {answer}"
    elif job.kind == "crash" and "segmentation fault" not in (answer.error or ""):
        yield f"{job}: expected the crash to be reported, got {answer}"


@pytest.mark.slow
def test_500_requests_from_50_clients_leave_nothing_behind(world: World) -> None:
    config = server_config(request_timeout_secs=SERVER_TIMEOUT_S)
    with ServerProcess(world, config=config, env={"FAULTY_DELAY": "0.02"}) as server:
        warmup = [
            Job(n=-i, kind="ok", family=FAMILIES[i % 4], stream=i % 8 < 4, token=uuid.uuid4().hex)
            for i in range(3 * CLIENTS)
        ]
        warmed = drive(server, warmup)
        assert all(o.answer is not None and o.answer.error is None for o in warmed)
        fds_before, rss_before = fd_count(server.pid), rss_kib(server.pid)
        kinds_before = fd_targets(server.pid)

        outcomes = drive(server, plan(random.Random(SEED)))

        problems = [p for o in outcomes for p in check(o)]
        assert not problems, f"{len(problems)} wrong outcomes, e.g.:\n" + "\n".join(problems[:10])
        kinds = Counter(o.job.kind for o in outcomes)
        assert kinds.keys() == KINDS.keys()  # the plan really exercised every kind

        calls = world.calls()
        started = Counter(tok for c in calls for tok in c["prompt"].split()[2:3])
        # a client that hangs up or gives up early may be gone before its CLI is even started
        waited = [o.job for o in outcomes if o.job.kind not in ("give_up", "hang_up")]
        unstarted = [job for job in waited if started[job.token] != 1]
        assert not unstarted, (
            f"{len(unstarted)} runs not started exactly once, e.g. {unstarted[:3]}"
        )
        assert max(started.values()) == 1
        wait_until(
            lambda: not any(world.leftovers(c) for c in calls),
            timeout=15,
            what="every backend CLI process to be gone",
        )
        assert children(server.pid) == []
        try:
            wait_until(lambda: fd_count(server.pid) <= fds_before, timeout=15, what="fds")
        except AssertionError:
            extra = fd_targets(server.pid) - kinds_before
            raise AssertionError(
                f"the server holds more descriptors than before: {extra}"
            ) from None
        assert rss_kib(server.pid) < rss_before + RSS_SLACK_KIB
        with server.client() as c:
            assert c.get("/health").status_code == 200
        assert server.stop() == 0


def test_a_client_that_hangs_up_an_idle_connection_frees_its_socket(world: World) -> None:
    """Keep-alive connections closed by their clients are closed by the server at once, not
    after ``server.idle_timeout_secs`` (120 s): otherwise clients that reconnect often pile up
    sockets in CLOSE-WAIT until the server runs out of descriptors."""
    with ServerProcess(world, config=server_config(idle_timeout_secs=120)) as server:
        with server.client() as c:
            assert c.get("/health").status_code == 200
        before = fd_count(server.pid)
        for _ in range(20):
            with server.client() as c:
                assert c.get("/openai/v1/models").status_code == 200
        wait_until(
            lambda: fd_count(server.pid) <= before,
            timeout=2,
            what=f"the server to close the 20 connections its clients hung up ({before} fds)",
        )
