"""API keys, CORS, the body-size limit and rate limiting, as a client sees them."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator

import pytest
from clinvoker.config import ApiKeyPolicy
from conftest import wait_until

KEY = "sk-test-0123456789"


@pytest.fixture
def keyed(serve):
    return serve(api_keys=[KEY])


def test_keys_are_required_everywhere_but_health(keyed):
    with keyed.client() as c:
        assert c.get("/health").status_code == 200
        assert c.head("/health").status_code == 200
        for method, path in [
            ("GET", "/api/v1/backends"),
            ("HEAD", "/api/v1/backends"),
            ("OPTIONS", "/api/v1/backends"),
            ("GET", "/metrics"),
            ("GET", "/docs"),
            ("GET", "/openapi.json"),
            ("GET", "/openai/v1/models"),
            ("GET", "/no/such/path"),
            ("GET", "//health/../api/v1/backends"),
            ("GET", "/health/%2e%2e/api/v1/backends"),
        ]:
            r = c.request(method, path)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"


def test_bearer_and_x_api_key_both_work(keyed):
    with keyed.client() as c:
        bearer = c.get("/api/v1/backends", headers={"authorization": f"Bearer {KEY}"})
        lower = c.get("/api/v1/backends", headers={"authorization": f"bearer {KEY}"})
        header = c.get("/api/v1/backends", headers={"x-api-key": KEY})
        wrong = c.get("/api/v1/backends", headers={"x-api-key": KEY + "x"})
        empty = c.get("/api/v1/backends", headers={"authorization": "Basic abc"})
    assert bearer.status_code == lower.status_code == header.status_code == 200
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"].startswith("invalid API key")
    assert empty.status_code == 401
    assert empty.json()["error"]["message"].startswith("missing API key")


def test_401_shapes_follow_the_family(keyed):
    with keyed.client() as c:
        openai = c.get("/openai/v1/models").json()
        anthropic = c.get("/anthropic/v1/models").json()
    assert openai["error"]["code"] == "invalid_api_key"
    assert anthropic["error"]["type"] == "authentication_error"


def test_keys_from_env_and_file(serve, tmp_path, monkeypatch):
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# team keys\nfile-key-1\n\nfile-key-2\n")
    monkeypatch.setenv("CLINVK_API_KEYS", "env-key-a, env-key-b")
    server = serve(api_keys_file=str(key_file))
    with server.client() as c:
        for key in ("file-key-1", "file-key-2", "env-key-a", "env-key-b"):
            assert c.get("/api/v1/backends", headers={"x-api-key": key}).status_code == 200
        assert c.get("/api/v1/backends", headers={"x-api-key": "# team keys"}).status_code == 401


def test_cors_preflight_works_with_auth_on(keyed):
    preflight = {
        "origin": "http://localhost:5173",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    with keyed.client() as c:
        ok = c.options("/openai/v1/chat/completions", headers=preflight)
        evil = c.options(
            "/openai/v1/chat/completions", headers={**preflight, "origin": "https://evil.example"}
        )
        actual = c.get(
            "/api/v1/backends",
            headers={"origin": "http://localhost:5173", "authorization": f"Bearer {KEY}"},
        )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "authorization" in ok.headers["access-control-allow-headers"]
    assert evil.status_code == 403
    assert "access-control-allow-origin" not in evil.headers
    assert actual.status_code == 200
    assert actual.headers["access-control-allow-origin"] == "http://localhost:5173"


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * 256
        sent += 256


def test_body_over_the_limit_is_413_also_when_chunked(serve):
    server = serve(max_request_body_bytes=1024)
    with server.client() as c:
        small = c.post("/api/v1/prompt", json={"prompt": "hello", "backend": "nope"})
        big = c.post("/api/v1/prompt", content=b"{" + b" " * 2048 + b"}")
        chunked = c.post("/openai/v1/chat/completions", content=_chunks(2048))
        anthropic = c.post("/anthropic/v1/messages", content=_chunks(2048))
    assert small.status_code == 404  # reached the handler: unknown backend
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "request_too_large"
    assert chunked.status_code == 413
    assert chunked.json()["error"]["type"] == "invalid_request_error"
    assert anthropic.status_code == 413
    assert anthropic.json()["error"]["type"] == "request_too_large"


def test_rate_limit_answers_429_with_small_retry_after(serve):
    server = serve(rate_limit_enabled=True, rate_limit_rps=0.5, rate_limit_burst=2)
    with server.client() as c:
        codes = [c.get("/health").status_code for _ in range(3)]
        limited = c.get("/openai/v1/models")
    assert codes == [200, 200, 429]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 2
    assert 0 < int(limited.headers["retry-after-ms"]) <= 2000
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"


def test_spoofed_forwarded_for_does_not_change_the_bucket(serve):
    server = serve(rate_limit_enabled=True, rate_limit_rps=0.5, rate_limit_burst=2)
    with server.client() as c:
        codes = [
            c.get("/health", headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code
            for i in range(3)
        ]
    assert codes == [200, 200, 429]


def test_forwarded_for_from_a_trusted_proxy_is_the_client(serve):
    server = serve(
        rate_limit_enabled=True,
        rate_limit_rps=0.5,
        rate_limit_burst=2,
        trusted_proxies=["127.0.0.0/8"],
    )
    with server.client() as c:
        spread = [
            c.get("/health", headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
            for i in range(4)
        ]
        same = [
            c.get("/health", headers={"x-forwarded-for": "198.51.100.7"}).status_code
            for _ in range(3)
        ]
    assert spread == [200, 200, 200, 200]
    assert same == [200, 200, 429]


def test_each_key_has_its_own_bucket_and_policy(serve):
    server = serve(
        keys=[
            ApiKeyPolicy(name="slow", key="slow-key", rate_limit_rps=0.5, rate_limit_burst=1),
            ApiKeyPolicy(name="reader", key="read-key", access="read-only"),
            ApiKeyPolicy(name="other", key="other-key", backends=["stub2"]),
        ]
    )
    with server.client() as c:
        first = c.get("/api/v1/backends", headers={"x-api-key": "slow-key"})
        second = c.get("/api/v1/backends", headers={"x-api-key": "slow-key"})
        reader = c.get("/api/v1/backends", headers={"x-api-key": "read-key"})
        write = c.post(
            "/api/v1/prompt",
            json={"prompt": "hi", "sandbox_mode": "workspace"},
            headers={"x-api-key": "read-key"},
        )
        wrong_backend = c.post(
            "/openai/v1/chat/completions",
            json={"model": "stub", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": "Bearer other-key"},
        )
    assert (first.status_code, second.status_code, reader.status_code) == (200, 429, 200)
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "forbidden"
    assert wrong_backend.status_code == 403
    assert wrong_backend.json()["error"]["type"] == "permission_error"
    with server.client() as c:
        listed = c.get("/openai/v1/models", headers={"x-api-key": "other-key"}).json()["data"]
    assert {m["id"].split("/")[0] for m in listed} == {"stub2"}


def test_the_access_log_never_contains_keys(serve, caplog):
    caplog.set_level(logging.INFO, logger="clinvoker_server.access")
    server = serve(api_keys=[KEY], log_format="json")
    with server.client() as c:
        c.get("/api/v1/backends?token=secret-in-query", headers={"authorization": f"Bearer {KEY}"})
        c.get("/api/v1/sessions/abc", headers={"x-api-key": "wrong-key-value"})

    def lines() -> list[dict]:
        return [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith(".access")]

    wait_until(lambda: len(lines()) == 2, what="two access-log lines")
    first, second = lines()
    assert (first["status"], first["route"], first["path"]) == (
        200,
        "/api/v1/backends",
        "/api/v1/backends",
    )
    assert first["key"].startswith("key-")
    assert first["request_id"].startswith("req_")
    assert second["status"] == 401
    text = caplog.text
    for secret in (KEY, "secret-in-query", "wrong-key-value"):
        assert secret not in text


def test_rotating_the_key_file_takes_effect_without_a_restart(serve, tmp_path):
    key_file = tmp_path / "keys.txt"
    key_file.write_text("old-key\n")
    server = serve(api_keys_file=str(key_file))
    with server.client() as c:

        def status(key: str) -> int:
            return c.get("/api/v1/backends", headers={"x-api-key": key}).status_code

        assert status("old-key") == 200
        replacement = tmp_path / "keys.new"
        replacement.write_text("new-key\n")
        replacement.replace(key_file)
        wait_until(lambda: status("new-key") == 200, timeout=5, what="the new key to work")
        assert status("old-key") == 401


def _sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def test_connections_closed_by_clients_are_released(server):
    with server.client() as warm:
        warm.get("/health")
    before = _sockets()
    for _ in range(20):
        with server.client() as c:
            assert c.get("/health").status_code == 200
    wait_until(lambda: _sockets() <= before, timeout=10, what="the server to close its sockets")
