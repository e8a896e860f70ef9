"""The native REST API: prompt, streaming, sessions, resume, backends, metrics, docs."""

from __future__ import annotations

import json

from clinvoker.config import ApiKeyPolicy


def test_prompt_creates_a_session_that_can_be_listed_fetched_and_deleted(server, workdir):
    with server.client() as c:
        r = c.post(
            "/api/v1/prompt",
            json={"prompt": "hello", "workdir": workdir, "metadata": {"ticket": "T-1"}},
        )
        body = r.json()
        assert r.status_code == 200
        assert body["backend"] == "stub"
        assert body["exit_code"] == 0
        assert body["output"] == "You said: hello"
        assert body["token_usage"]["output_tokens"] == 7
        sid = body["session_id"]
        assert len(sid) == 32
        listed = c.get("/api/v1/sessions", params={"backend": "stub"}).json()
        assert listed["total"] == 1
        assert listed["sessions"][0]["id"] == sid
        assert "api" in listed["sessions"][0]["tags"]
        one = c.get(f"/api/v1/sessions/{sid[:8]}").json()
        assert one["id"] == sid
        assert one["working_dir"] == workdir
        assert c.delete(f"/api/v1/sessions/{sid[:8]}").json() == {"deleted": True, "id": sid}
        gone = c.get(f"/api/v1/sessions/{sid}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "session_not_found"


def test_ephemeral_prompt_leaves_no_session(server):
    with server.client() as c:
        body = c.post("/api/v1/prompt", json={"prompt": "x", "ephemeral": True}).json()
        listed = c.get("/api/v1/sessions").json()
    assert "session_id" not in body
    assert listed == {"sessions": [], "total": 0, "limit": 0, "offset": 0}


def test_sessions_paginate(server):
    with server.client() as c:
        ids = [
            c.post("/api/v1/prompt", json={"prompt": f"p{i}"}).json()["session_id"]
            for i in range(3)
        ]
        page = c.get("/api/v1/sessions", params={"limit": 2, "offset": 1}).json()
        bad = c.get("/api/v1/sessions", params={"limit": "lots"})
    assert page["total"] == 3
    assert page["limit"] == 2
    assert [s["id"] for s in page["sessions"]] == [ids[1], ids[0]]
    assert bad.status_code == 422


def test_resume_continues_the_backend_conversation(server):
    with server.client() as c:
        first = c.post("/api/v1/prompt", json={"prompt": "one"}).json()
        sid = first["session_id"]
        second = c.post(f"/api/v1/sessions/{sid}/resume", json={"prompt": "two"})
        third = c.post("/api/v1/prompt", json={"prompt": "three", "session_id": sid[:10]})
        session = c.get(f"/api/v1/sessions/{sid}").json()
        missing = c.post("/api/v1/sessions/ffffffff/resume", json={"prompt": "x"})
    assert second.status_code == 200
    assert second.json()["session_id"] == sid
    assert third.json()["session_id"] == sid
    assert session["turn_count"] == 3
    assert missing.status_code == 404


def test_stream_json_is_ndjson_and_accept_sse_is_sse(server):
    with server.client() as c:
        with c.stream(
            "POST", "/api/v1/prompt", json={"prompt": "yo", "output_format": "stream-json"}
        ) as r:
            assert r.headers["content-type"].startswith("application/x-ndjson")
            events = [json.loads(line) for line in r.iter_lines() if line]
        with c.stream(
            "POST", "/api/v1/prompt", json={"prompt": "yo"}, headers={"accept": "text/event-stream"}
        ) as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            frames = [line for line in s.iter_lines() if line]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "init"
    assert kinds[-1] == "done"
    assert "".join(e["content"]["text"] for e in events if e["type"] == "message") == "You said: yo"
    assert events[-1]["content"]["exit_code"] == 0
    assert all(e["session_id"] == events[0]["session_id"] for e in events)
    assert "event: done" in frames
    assert any(f.startswith("id: ") for f in frames)


def test_dry_run_shows_the_command(server):
    with server.client() as c:
        body = c.post("/api/v1/prompt", json={"prompt": "look", "dry_run": True}).json()
    assert body["exit_code"] == 0
    assert body["output"].startswith("Would execute: ")
    assert "look" in body["output"]
    assert server.pids() == []


def test_backends_lists_availability(server):
    with server.client() as c:
        body = c.get("/api/v1/backends").json()
    assert [b["name"] for b in body["backends"]] == ["stub", "stub2"]
    assert all(b["available"] for b in body["backends"])


def test_named_keys_only_see_their_own_sessions(serve):
    server = serve(
        keys=[ApiKeyPolicy(name="alice", key="a-key"), ApiKeyPolicy(name="bob", key="b-key")]
    )
    with server.client() as c:
        sid = c.post(
            "/api/v1/prompt", json={"prompt": "mine"}, headers={"x-api-key": "a-key"}
        ).json()["session_id"]
        assert c.get(f"/api/v1/sessions/{sid}", headers={"x-api-key": "a-key"}).status_code == 200
        assert c.get(f"/api/v1/sessions/{sid}", headers={"x-api-key": "b-key"}).status_code == 404
        assert c.get("/api/v1/sessions", headers={"x-api-key": "b-key"}).json()["total"] == 0


def test_metrics_use_route_templates(serve):
    server = serve(metrics_enabled=True)
    with server.client() as c:
        sid = c.post("/api/v1/prompt", json={"prompt": "m"}).json()["session_id"]
        c.get(f"/api/v1/sessions/{sid}")
        c.post(
            "/openai/v1/chat/completions",
            json={"model": "stub", "messages": [{"role": "user", "content": "x"}]},
        )
        text = c.get("/metrics").text
    assert 'route="/api/v1/sessions/{id}"' in text
    assert sid not in text
    assert "clinvk_requests_total" in text
    assert "clinvk_request_duration_seconds_bucket" in text
    assert 'clinvk_backend_executions_total{backend="stub",status="success"} 2.0' in text
    assert 'clinvk_tokens_total{backend="stub",kind="output"} 14.0' in text
    assert "clinvk_active_runs" in text


def test_metrics_are_off_unless_enabled(server):
    with server.client() as c:
        assert c.get("/metrics").status_code == 404


def test_openapi_covers_every_route(server):
    with server.client() as c:
        spec = c.get("/openapi.json").json()
        docs = c.get("/docs")
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    from clinvoker_server.app import ROUTES

    for route in ROUTES:
        for method in route.methods - {"HEAD"}:
            path = route.path.replace("{model:path}", "{model}")
            if path in ("/openapi.json", "/docs"):
                continue
            assert (method, path) in routes
    assert spec["openapi"].startswith("3.1")
    assert "ChatRequest" in spec["components"]["schemas"]
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


def test_resuming_a_session_from_a_blocked_directory_is_refused(serve, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    server = serve(blocked_workdir_prefixes=[str(secret)])
    session = server.store.create(backend="stub", workdir=str(secret), initial_prompt="cli run")
    with server.client() as c:
        r = c.post(f"/api/v1/sessions/{session.id}/resume", json={"prompt": "more"})
        via_prompt = c.post("/api/v1/prompt", json={"prompt": "more", "session_id": session.id})
    assert r.status_code == 403
    assert via_prompt.status_code == 403
    assert server.pids() == []
