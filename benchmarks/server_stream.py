"""Streaming figures of the server: SSE relay delay, and memory with 200 open streams.

* Relay: the stub writes text deltas whose text is the ``CLOCK_MONOTONIC`` time of the write
  (the clock is shared by all processes); the client notes the time it reads each SSE chunk.
  The baseline is the same stub's lines reaching a parent that reads its pipe directly.
* Memory: 200 streaming requests whose stub prints its text deltas and then waits for a lock
  the benchmark holds; once every client has received the stub's text, the server's RSS (from
  ``/proc/<pid>/status``, which counts that process only, not its children) is sampled; then
  the lock is released, every stub finishes, and every stream must end with ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import time
from typing import TYPE_CHECKING

from benchmarks.harness import Row, Target
from benchmarks.http_client import Connection, HTTPError
from benchmarks.stub_cli import HOLD, RELAY, RELAY_DELTAS

if TYPE_CHECKING:
    from benchmarks.context import Context
    from benchmarks.server_suite import Bench

__all__ = ["memory_rows", "relay_rows", "rss_mb"]

_STAMP = re.compile(rb"@(\d+)@")
RELAY_TARGET = Target("below", 0.005, "p50 < 5 ms")
MEMORY_TARGET = Target("below", 200.0, "< 200 MB")
STREAMS = 200
DEADLINE_S = 120.0


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` alone (MiB)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _events(buffer: bytearray) -> list[bytes]:
    """Complete SSE events taken off the front of ``buffer``."""
    events = []
    while (end := buffer.find(b"\n\n")) >= 0:
        events.append(bytes(buffer[:end]))
        del buffer[: end + 2]
    return events


async def _relay_served(bench: Bench) -> list[float]:
    from benchmarks.server_suite import CHAT, chat_body

    conn = Connection(bench.port)
    delays: list[float] = []
    buffer = bytearray()
    try:
        async for read_ns, piece in conn.stream(CHAT, chat_body(RELAY, stream=True)):
            buffer += piece
            for event in _events(buffer):
                if match := _STAMP.search(event):
                    delays.append((read_ns - int(match.group(1))) / 1e9)
    finally:
        await conn.close()
    if len(delays) != RELAY_DELTAS:
        raise RuntimeError(f"the relay stream carried {len(delays)} of {RELAY_DELTAS} deltas")
    return delays


async def _relay_direct(bench: Bench) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        *bench.stub_argv(RELAY),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None
    delays = []
    while line := await proc.stdout.readline():
        read_ns = time.monotonic_ns()
        if match := _STAMP.search(line):
            delays.append((read_ns - int(match.group(1))) / 1e9)
    await proc.wait()
    return delays


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def relay_rows(bench: Bench, ctx: Context) -> list[Row]:
    """Delay from the stub writing a delta to the SSE client reading it."""
    await _relay_served(bench)  # warm-up
    await _relay_direct(bench)
    served: dict[str, list[float]] = {"p50": [], "p99": []}
    direct: dict[str, list[float]] = {"p50": [], "p99": []}
    for _ in range(ctx.rounds):
        a, b = [], []
        for _ in range(2):
            a += await _relay_served(bench)
            b += await _relay_direct(bench)
        for name, stat in (("p50", _median), ("p99", _p99)):
            served[name].append(stat(a))
            direct[name].append(stat(b))
    return [
        Row(
            "server",
            f"SSE relay, backend writes a line → client reads the chunk, {name}",
            "the line reaching a parent reading the stub's pipe",
            "ms",
            served[name],
            direct[name],
            RELAY_TARGET if name == "p50" else Target("none", text="—"),
            note=f"{2 * RELAY_DELTAS} deltas per round" if name == "p99" else "",
        )
        for name in ("p50", "p99")
    ]


async def _hold(bench: Bench, arrived: list[int], all_in: asyncio.Event, total: int) -> None:
    from benchmarks.server_suite import CHAT, chat_body

    conn = Connection(bench.port)
    first = True
    done = False
    try:
        async for _, piece in conn.stream(CHAT, chat_body(HOLD, stream=True)):
            if first and b"Hello" in piece:  # the stub's first text delta: it is waiting now
                first = False
                arrived[0] += 1
                if arrived[0] == total:
                    all_in.set()
            done = done or b"data: [DONE]" in piece
    finally:
        await conn.close()
    if not done:
        raise HTTPError("a held stream ended without [DONE]")


async def _one_memory_round(bench: Bench, streams: int) -> tuple[float, float]:
    idle = rss_mb(bench.pid)
    gate = os.open(bench.stub.gate, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(gate, fcntl.LOCK_EX)  # the stubs wait for it once they have printed their text
    arrived = [0]
    all_in = asyncio.Event()
    tasks = [asyncio.create_task(_hold(bench, arrived, all_in, streams)) for _ in range(streams)]
    try:
        try:
            await asyncio.wait_for(all_in.wait(), DEADLINE_S)
        except TimeoutError:
            raise TimeoutError(f"only {arrived[0]} of {streams} streams started") from None
        busy = 0.0
        for _ in range(5):
            busy = max(busy, rss_mb(bench.pid))
            await asyncio.sleep(0.05)
    finally:
        os.close(gate)  # releases the lock: every stub finishes
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), DEADLINE_S)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {streams} held streams failed: {failed[0]!r}")
    return busy, idle


async def memory_rows(bench: Bench, ctx: Context) -> list[Row]:
    """Server RSS with ``STREAMS`` concurrent streams against its idle RSS."""
    streams = ctx.scaled(STREAMS, 20)
    busy, idle = [], []
    for _ in range(max(2, ctx.rounds // 3)):
        b, i = await _one_memory_round(bench, streams)
        busy.append(b)
        idle.append(i)
    return [
        Row(
            "server",
            f"server RSS with {streams} concurrent streams (children excluded)",
            "idle server RSS (after the other figures)",
            "MB",
            busy,
            idle,
            MEMORY_TARGET,
        )
    ]
