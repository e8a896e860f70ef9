"""SIGTERM to ``clinvk serve`` while 20 streams are running.

New requests are refused at once; runs in flight may finish within ``shutdown_grace_secs``;
whatever is still running after that is stopped — its whole process group — and the server
exits 0. Even SIGKILL, which the server cannot handle, leaves no CLI running.
"""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from reliability.conftest import GRACE_S, server_config
from reliability.support.families import FAMILIES, Answer, ask
from reliability.support.procs import wait_until
from reliability.support.server import ServerProcess
from reliability.support.world import World

STREAMS = 20


def start_streams(
    pool: ThreadPoolExecutor, server: ServerProcess, fault: str
) -> list[tuple[str, Future[Answer]]]:
    def one(n: int, prompt: str) -> Answer:
        with server.client(timeout=60) as client:
            return ask(client, FAMILIES[n % len(FAMILIES)], prompt, stream=True)

    started = []
    for n in range(STREAMS):
        prompt = f"stream {n} {uuid.uuid4().hex} FAULT:{fault}"
        started.append((prompt, pool.submit(one, n, prompt)))
    return started


def wait_for_clis(
    world: World, server: ServerProcess, streams: list[tuple[str, Future[Answer]]]
) -> None:
    """Wait until every stream's CLI is running; on timeout, say what happened instead."""
    try:
        wait_until(lambda: len(world.calls()) >= STREAMS, timeout=30, what="20 CLIs running")
    except AssertionError as exc:
        ended = [repr(f.exception() or f.result()) for _, f in streams if f.done()]
        raise AssertionError(
            f"{exc}: {len(world.calls())} started; {len(ended)} streams ended: {ended[:3]}\n"
            f"server output:\n{server.output()[-3000:]}"
        ) from None
    assert len(world.calls()) == STREAMS, "a CLI was started more than once"


def refused(server: ServerProcess) -> bool:
    """Whether a new request is turned away (connection refused, or 503)."""
    try:
        with server.client(timeout=5) as client:
            status = client.get("/openai/v1/models").status_code
    except httpx.TransportError:
        return True
    return status == 503


def test_sigterm_drains_the_streams_in_flight_and_refuses_new_ones(world: World) -> None:
    config = server_config(shutdown_grace_secs=20, request_timeout_secs=60)
    with (
        ServerProcess(world, config=config, env={"FAULTY_DELAY": "0.1"}) as server,
        ThreadPoolExecutor(STREAMS) as pool,
    ):
        streams = start_streams(pool, server, "slow")
        wait_for_clis(world, server, streams)
        server.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        began = time.monotonic()
        wait_until(lambda: refused(server), timeout=5, what="new requests to be refused")
        assert all(not future.done() for _, future in streams), "a run ended before its time"
        assert refused(server)
        answers = [(prompt, future.result(timeout=60)) for prompt, future in streams]
        # no second SIGTERM (server.stop would send one): the server may be past its handlers
        rc = server.proc.wait(30)  # type: ignore[union-attr]
        stopped_after = time.monotonic() - began
    for prompt, answer in answers:
        assert answer.error is None, answer
        assert answer.complete
        assert answer.text == f"echo: {prompt}"
    assert rc == 0
    assert stopped_after < 20, "the server waited for the whole grace period with nothing to do"
    assert not any(world.leftovers(call) for call in world.calls())


def test_sigterm_stops_runs_still_going_after_the_grace_period(world: World) -> None:
    grace = 2
    config = server_config(shutdown_grace_secs=grace, request_timeout_secs=60)
    with ServerProcess(world, config=config) as server, ThreadPoolExecutor(STREAMS) as pool:
        streams = start_streams(pool, server, "noterm")  # ignores SIGTERM, and so does its child
        wait_for_clis(world, server, streams)
        began = time.monotonic()
        rc = server.stop(timeout=30)
        stopped_after = time.monotonic() - began
        outcomes: list[Answer | httpx.HTTPError] = []
        for _, future in streams:
            try:
                outcomes.append(future.result(timeout=30))
            except httpx.HTTPError as exc:  # the connection was cut: the client knows
                outcomes.append(exc)
    assert rc == 0
    assert stopped_after < grace + GRACE_S + 4, f"took {stopped_after:.1f}s to stop"
    calls = world.calls()
    assert len(calls) == STREAMS
    left = {call["pid"]: world.leftovers(call) for call in calls if world.leftovers(call)}
    assert not left, f"processes left after shutdown: {left}"
    for outcome in outcomes:  # no stream looks like a complete answer
        assert isinstance(outcome, httpx.HTTPError) or outcome.error or not outcome.complete


def test_kill_9_of_the_server_leaves_no_cli_running(world: World) -> None:
    """A server killed with SIGKILL cannot stop its CLIs; its watchdog does, after its grace."""
    config = server_config(request_timeout_secs=60)
    with ServerProcess(world, config=config) as server, ThreadPoolExecutor(STREAMS) as pool:
        streams = start_streams(pool, server, "noterm")  # ignores SIGTERM, and so does its child
        wait_for_clis(world, server, streams)
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        calls = world.calls()
        wait_until(
            lambda: not any(world.leftovers(call) for call in calls),
            timeout=GRACE_S + 6,
            what="the killed server's CLIs and their children to end",
        )
        for _, future in streams:  # every client sees its connection cut
            with contextlib.suppress(httpx.HTTPError):
                answer = future.result(timeout=30)
                assert answer.error or not answer.complete, answer


def test_sigterm_sent_again_and_again_still_ends_in_exit_0(world: World) -> None:
    """An impatient supervisor repeats SIGTERM; one landing while the server is already
    tearing down (after the drain) must not turn its clean exit into death by signal."""
    with ServerProcess(world, config=server_config(shutdown_grace_secs=5)) as server:
        proc = server.proc
        assert proc is not None
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            time.sleep(0.003)  # a steady stream of signals, not a synchronisation
        rc = proc.wait(5)
    assert rc == 0, server.output()[-2000:]
