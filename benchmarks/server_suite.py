"""The server: ``clinvk serve`` with the stub backend, against spawning the stub directly.

The server is the real ``clinvk serve`` process (its own process, so its memory is its own),
with the real ``claude`` backend whose ``path`` is the stub CLI (:mod:`benchmarks.stub_cli`).
Concurrency limits are raised (``max_concurrent_per_backend``/``queue_size`` 256) so the
load figures measure the server, not its admission queue. Measured:

* latency of ``POST /openai/v1/chat/completions`` (p50, p99) against spawning the stub and
  reading its output to the end, the way the runner does (own process group, pipes);
* requests/s with 1, 8 and 64 concurrent clients against stub spawns/s at the same concurrency;
* SSE relay: backend writes a line → client reads the chunk, against the same stub's line
  reaching a parent reading its pipe (:mod:`benchmarks.server_stream`);
* server RSS with 200 concurrent streams against its idle RSS (:mod:`benchmarks.server_stream`).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from benchmarks.background import Background
from benchmarks.context import Context
from benchmarks.harness import Row, Target
from benchmarks.http_client import Connection, HTTPError
from benchmarks.server_stream import memory_rows, relay_rows
from benchmarks.startup import clinvk_script
from benchmarks.stub_cli import StubFiles, write_stub

__all__ = ["Bench", "run"]

CHAT = "/openai/v1/chat/completions"
LATENCY_TARGET = Target("diff", 0.005, "< +5 ms at p50")
NO_TARGET = Target("none", text="—")
CONCURRENCY = (1, 8, 64)


def _config(stub: StubFiles) -> str:
    return json.dumps(
        {
            "default_backend": "claude",
            "backends": {"claude": {"path": str(stub.executable)}},
            "server": {
                "host": "127.0.0.1",
                "max_concurrent_per_backend": 256,
                "queue_size": 256,
                "shutdown_grace_secs": 2,
            },
        },
        indent=2,
    )


def chat_body(prompt: str, *, stream: bool = False) -> bytes:
    """An OpenAI chat completions request for the stub backend."""
    body = {"model": "claude", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    return json.dumps(body).encode()


class Bench:
    """The running server and the stub, shared by the server figures."""

    def __init__(self, port: int, pid: int, stub: StubFiles) -> None:
        self.port = port
        self.pid = pid
        self.stub = stub

    def stub_argv(self, prompt: str) -> list[str]:
        """What the claude backend runs, more or less (the stub ignores its flags)."""
        return [
            str(self.stub.executable),
            "-p",
            "--output-format=stream-json",
            "--verbose",
            "--include-partial-messages",
            "--",
            prompt,
        ]

    async def spawn_stub(self, prompt: str = "say hi") -> float:
        """Spawn the stub, read its stdout to the end, reap it; seconds taken."""
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *self.stub_argv(prompt),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        lines, _ = await asyncio.gather(_count_lines(proc.stdout), proc.stderr.read())
        rc = await proc.wait()
        elapsed = time.perf_counter() - started
        if rc != 0 or lines == 0:
            raise RuntimeError(f"the stub exited with {rc} after {lines} lines")
        return elapsed

    async def chat(self, conn: Connection, prompt: str = "say hi") -> float:
        """One non-streaming chat completion; seconds taken."""
        started = time.perf_counter()
        response = await conn.post(CHAT, chat_body(prompt))
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise HTTPError(f"HTTP {response.status}: {response.body[:300]!r}")
        content = json.loads(response.body)["choices"][0]["message"]["content"]
        if "Hello from fake model" not in content:
            raise RuntimeError(f"unexpected answer {content!r}")
        return elapsed


async def _count_lines(stream: asyncio.StreamReader) -> int:
    count = 0
    while await stream.readline():
        count += 1
    return count


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def latency_rows(bench: Bench, ctx: Context) -> list[Row]:
    """p50/p99 of sequential requests against direct stub spawns (alternating)."""
    conn = Connection(bench.port)
    per_round = ctx.scaled(60, 10)
    for _ in range(5):  # warm-up: imports, first spawns, connection
        await bench.chat(conn)
        await bench.spawn_stub()
    served: dict[str, list[float]] = {"p50": [], "p99": []}
    direct: dict[str, list[float]] = {"p50": [], "p99": []}
    for _ in range(ctx.rounds):
        a, b = [], []
        for _ in range(per_round):
            a.append(await bench.chat(conn))
            b.append(await bench.spawn_stub())
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            served[name].append(_quantile(a, q))
            direct[name].append(_quantile(b, q))
    await conn.close()
    return [
        Row(
            "server",
            f"`POST {CHAT}` latency, {name} (sequential, stub backend)",
            "spawning the stub directly",
            "ms",
            served[name],
            direct[name],
            LATENCY_TARGET if name == "p50" else NO_TARGET,
            note=f"{name} of {per_round} requests per round" if name == "p99" else "",
        )
        for name in ("p50", "p99")
    ]


async def _server_rate(bench: Bench, conns: list[Connection], total: int) -> float:
    remaining = total

    async def client(conn: Connection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await bench.chat(conn)

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    return total / (time.perf_counter() - started)


async def _direct_rate(bench: Bench, concurrency: int, total: int) -> float:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await bench.spawn_stub()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def throughput_rows(bench: Bench, ctx: Context) -> list[Row]:
    """Requests/s at each concurrency against stub spawns/s at the same concurrency."""
    rows = []
    rounds = max(2, ctx.rounds // 2)
    for concurrency in CONCURRENCY:
        total = ctx.scaled(max(100, 4 * concurrency), concurrency)
        conns = [Connection(bench.port) for _ in range(concurrency)]
        await asyncio.gather(*(bench.chat(c) for c in conns))  # open and warm every connection
        served, direct = [], []
        for _ in range(rounds):
            served.append(await _server_rate(bench, conns, total))
            direct.append(await _direct_rate(bench, concurrency, total))
        await asyncio.gather(*(c.close() for c in conns))
        rows.append(
            Row(
                "server",
                f"requests/s, {concurrency} concurrent client{'s' if concurrency > 1 else ''}",
                f"stub spawns/s, {concurrency} at a time",
                "req/s",
                served,
                direct,
                NO_TARGET,
            )
        )
    return rows


async def _measure(ctx: Context, bench: Bench) -> list[Row]:
    rows: list[Row] = []
    for figures in (latency_rows, throughput_rows, relay_rows, memory_rows):
        try:
            rows += await figures(bench, ctx)
        except (HTTPError, RuntimeError, OSError, TimeoutError, ValueError) as exc:
            name = figures.__name__.removesuffix("_rows")
            rows.append(
                Row(
                    "server", f"server {name}", "—", "", note=f"failed: {type(exc).__name__}: {exc}"
                )
            )
    return rows


def run(ctx: Context) -> list[Row]:
    """Start ``clinvk serve`` with the stub backend and measure it."""
    stub = write_stub(ctx.dir("server/stub"))
    env = ctx.clean_env("server")
    home = Path(env["CLINVK_HOME"])
    (home / "config.yaml").write_text(_config(stub))
    ready = ctx.scratch / "server" / "url"
    argv = [str(clinvk_script()), "serve", "--port", "0", "--ready-file", str(ready)]
    log = ctx.scratch / "server" / "log"
    with Background(
        argv, ready_file=ready, env=env, log=log, complete=lambda text: text.endswith("\n")
    ) as server:
        port = int(server.ready.rsplit(":", 1)[1])
        return asyncio.run(_measure(ctx, Bench(port, server.pid, stub)))
