"""Streaming behaviour a client notices: real-time relay, failures, keep-alives, disconnects, limits."""

from __future__ import annotations

import asyncio
import json
import random
import time

import anthropic
import httpx
import openai
import pytest
from conftest import alive, wait_until

CHAT = "/openai/v1/chat/completions"
MESSAGES = "/anthropic/v1/messages"


def chat_body(model: str, stream: bool = True) -> dict:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "go"}]}


def anthropic_body(model: str, stream: bool = True) -> dict:
    return {
        "model": model,
        "max_tokens": 50,
        "stream": stream,
        "messages": [{"role": "user", "content": "go"}],
    }


def test_text_is_relayed_as_the_cli_prints_it(server, monkeypatch):
    monkeypatch.setenv("STUB_DELAY", "0.15")
    start = time.monotonic()
    with server.client() as c, c.stream("POST", CHAT, json=chat_body("stub/slow")) as r:
        arrivals = []
        for line in r.iter_lines():
            if line.startswith("data: {") and '"content":"w' in line:
                arrivals.append(time.monotonic() - start)
    assert len(arrivals) == 20
    # The CLI needs ~3 s for 20 deltas; the first must arrive long before the last.
    assert arrivals[0] < arrivals[-1] - 2.0


def test_backend_crash_mid_stream_is_an_explicit_error(server):
    with server.client() as c:
        with c.stream("POST", CHAT, json=chat_body("stub/crash")) as r:
            lines = [line for line in r.iter_lines() if line]
        with c.stream("POST", MESSAGES, json=anthropic_body("stub/crash")) as a:
            frames = [line for line in a.iter_lines() if line]
    assert r.status_code == 200
    assert "data: [DONE]" not in lines
    error = json.loads(lines[-1].removeprefix("data: "))
    assert error["error"]["type"] == "server_error"
    assert "stub crashed" in error["error"]["message"]
    assert frames[-2] == "event: error"
    assert json.loads(frames[-1].removeprefix("data: "))["error"]["type"] == "api_error"


def test_sdks_raise_on_a_mid_stream_failure(server):
    client = openai.OpenAI(base_url=server.url + "/openai/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.APIError, match="stub crashed"):
        list(client.chat.completions.create(**chat_body("stub/crash")))
    ant = anthropic.Anthropic(base_url=server.url + "/anthropic", api_key="k", max_retries=0)
    with pytest.raises(anthropic.APIStatusError, match="stub crashed"):
        list(ant.messages.create(**anthropic_body("stub/crash")))
    client.close()
    ant.close()


def test_non_streamed_failures_are_5xx_in_the_family_shape(server):
    with server.client() as c:
        crashed = c.post(CHAT, json=chat_body("stub/crash", stream=False))
        limited = c.post(MESSAGES, json=anthropic_body("stub/error", stream=False))
        native = c.post("/api/v1/prompt", json={"prompt": "go", "model": "crash"})
    assert crashed.status_code == 502
    assert crashed.json()["error"]["type"] == "server_error"
    assert "stub crashed" in crashed.json()["error"]["message"]
    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert native.status_code == 200
    assert native.json()["exit_code"] == 3
    assert "stub crashed" in native.json()["error"]


def test_keepalives_while_the_cli_is_quiet(serve, monkeypatch):
    monkeypatch.setenv("STUB_DELAY", "1.4")
    server = serve(keepalive_secs=1)
    with server.client() as c:
        with c.stream("POST", CHAT, json=chat_body("stub/slow")) as r:
            openai_lines = []
            for line in r.iter_lines():
                openai_lines.append(line)
                if len([x for x in openai_lines if x.startswith("data: {")]) >= 3:
                    break
        with c.stream("POST", MESSAGES, json=anthropic_body("stub/slow")) as a:
            anthropic_lines = []
            for line in a.iter_lines():
                anthropic_lines.append(line)
                if anthropic_lines.count("event: content_block_delta") >= 2:
                    break
    assert ": keepalive" in openai_lines
    assert "event: ping" in anthropic_lines
    assert 'data: {"type":"ping"}' in anthropic_lines


def test_client_disconnect_kills_the_cli(server):
    with server.client() as c, c.stream("POST", CHAT, json=chat_body("stub/hang")) as r:
        for line in r.iter_lines():
            if "thinking" in line:
                break
    wait_until(lambda: len(server.pids()) == 1, what="the stub to start")
    (pid,) = server.pids()
    wait_until(lambda: not alive(pid), timeout=10, what=f"stub pid {pid} to be killed")
    with server.client() as c:
        assert c.get("/health").json()["active_runs"] == 0


def test_non_streamed_client_disconnect_kills_the_cli(server):
    with server.client(timeout=1.0) as c, pytest.raises(httpx.ReadTimeout):
        c.post(CHAT, json=chat_body("stub/hang", stream=False))
    wait_until(lambda: len(server.pids()) == 1, what="the stub to start")
    (pid,) = server.pids()
    wait_until(lambda: not alive(pid), timeout=10, what=f"stub pid {pid} to be killed")


def test_fifty_streams_disconnected_at_random_points(serve, monkeypatch):
    monkeypatch.setenv("STUB_DELAY", "0.05")
    server = serve(max_concurrent_per_backend=50, queue_size=10, shutdown_grace_secs=5)
    rng = random.Random(7)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        stop_after = rng.randint(2, 30)
        body = anthropic_body("stub/slow") if i % 2 else chat_body("stub/slow")
        path = MESSAGES if i % 2 else CHAT
        async with client.stream("POST", path, json=body) as r:
            seen = 0
            async for _ in r.aiter_lines():
                seen += 1
                if seen > stop_after:
                    break

    async def main() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await asyncio.gather(*(one(client, i) for i in range(50)))

    asyncio.run(main())
    with server.client() as c:
        wait_until(
            lambda: c.get("/health").json()["active_runs"] == 0, timeout=5, what="no run in flight"
        )
        pids = server.pids()
        assert len(pids) >= 25  # most clients disconnected after their CLI had started
        wait_until(lambda: not any(alive(p) for p in pids), timeout=5, what="every stub gone")
        health = c.get("/health").json()
        after = c.post(CHAT, json=chat_body("stub", stream=False))
    assert health["status"] == "ok"
    assert after.status_code == 200


def test_full_backend_queue_is_503_or_529(serve):
    server = serve(max_concurrent_per_backend=1, queue_size=0)
    with server.client() as c, c.stream("POST", CHAT, json=chat_body("stub/hang")) as busy:
        lines = busy.iter_lines()  # keep a reference: dropping the iterator closes the response
        for line in lines:
            if "thinking" in line:
                break
        openai_r = c.post(CHAT, json=chat_body("stub", stream=False))
        anthropic_r = c.post(MESSAGES, json=anthropic_body("stub", stream=False))
        other = c.post(CHAT, json=chat_body("stub2", stream=False))
    assert openai_r.status_code == 503
    assert openai_r.json()["error"]["code"] == "overloaded"
    assert anthropic_r.status_code == 529
    assert anthropic_r.json()["error"]["type"] == "overloaded_error"
    assert other.status_code == 200


def test_queued_request_waits_for_a_free_slot(serve, monkeypatch):
    monkeypatch.setenv("STUB_DELAY", "0.05")
    server = serve(max_concurrent_per_backend=1, queue_size=2)

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            replies = await asyncio.gather(
                *(client.post(CHAT, json=chat_body("stub/slow", stream=False)) for _ in range(3))
            )
        return [r.status_code for r in replies]

    assert asyncio.run(main()) == [200, 200, 200]


def test_traceparent_reaches_the_cli(server):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    header = f"00-{trace_id}-00f067aa0ba902b7-01"
    with server.client() as c:
        r = c.post(
            CHAT, json=chat_body("stub/trace", stream=False), headers={"traceparent": header}
        )
        fresh = c.post(CHAT, json=chat_body("stub/trace", stream=False))
    passed = r.json()["choices"][0]["message"]["content"]
    assert passed.startswith(f"00-{trace_id}-")
    assert passed != header  # the CLI gets the run span, a child of the caller's span
    assert fresh.json()["choices"][0]["message"]["content"].startswith("00-")


def test_request_and_run_spans_share_the_callers_trace(serve):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    server = serve(app_kw={"span_processors": (SimpleSpanProcessor(exporter),)})
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with server.client() as c:
        r = c.post(
            CHAT,
            json=chat_body("stub/trace", stream=False),
            headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"},
        )
    assert r.status_code == 200

    def spans() -> dict[str, object]:
        return {
            s.name: s
            for s in exporter.get_finished_spans()
            if format(s.context.trace_id, "032x") == trace_id
        }

    wait_until(lambda: len(spans()) >= 2, what="the request and run spans")
    found = spans()
    request_span = found["POST /openai/v1/chat/completions"]
    run_span = next(s for name, s in found.items() if name.startswith("clinvoker.run"))
    assert request_span.parent.span_id == 0xB7AD6B7169203331
    assert run_span.parent.span_id == request_span.context.span_id
    child_env = r.json()["choices"][0]["message"]["content"]
    assert child_env == f"00-{trace_id}-{run_span.context.span_id:016x}-01"


def test_run_timeout_is_504_in_each_family(serve):
    server = serve(request_timeout_secs=1)
    with server.client() as c:
        openai_r = c.post(CHAT, json=chat_body("stub/hang", stream=False))
        anthropic_r = c.post(MESSAGES, json=anthropic_body("stub/hang", stream=False))
    assert openai_r.status_code == 504
    assert openai_r.json()["error"]["code"] == "timeout"
    assert anthropic_r.status_code == 504
    assert anthropic_r.json()["error"]["type"] == "timeout_error"
    assert not any(alive(p) for p in server.pids())


def test_missing_cli_is_503_and_health_degraded(serve):
    from clinvoker.config import BackendConfig

    server = serve(config={"backends": {"stub2": BackendConfig(path="/nonexistent/stub2")}})
    with server.client() as c:
        r = c.post(CHAT, json=chat_body("stub2", stream=False))
        health = c.get("/health").json()
        backends = c.get("/api/v1/backends").json()["backends"]
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "backend_unavailable"
    assert health["status"] == "degraded"
    assert [b["available"] for b in backends] == [True, False]
