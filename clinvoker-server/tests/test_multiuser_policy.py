"""Several people sharing one server: per-key policies and session isolation, over HTTP.

Key A may use only the ``stub`` backend, read-only, under one workdir root; key B has full
access. ``stub/perm`` answers with the approval/sandbox modes the backend was given and
``stub/pwd`` with the directory it ran in, so the tests see what the CLI would have got.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clinvoker.config import ApiKeyPolicy, BackendConfig, UnifiedFlags
from conftest import Running, wait_until

A = {"x-api-key": "key-of-alice"}
B = {"authorization": "Bearer key-of-bob"}
CHAT = "/openai/v1/chat/completions"
MESSAGES = "/anthropic/v1/messages"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "alice-root"
    (path / "project").mkdir(parents=True)
    return path.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def shared(serve, root: Path) -> Running:
    return serve(
        keys=[
            ApiKeyPolicy(
                name="alice",
                key="key-of-alice",
                backends=["stub"],
                access="read-only",
                workdir_roots=[str(root)],
            ),
            ApiKeyPolicy(name="bob", key="key-of-bob"),
        ],
        config={
            # server-wide defaults that would widen a read-only run if they were applied
            "unified_flags": UnifiedFlags(approval_mode="auto"),
            "backends": {"stub": BackendConfig(approval_mode="none", sandbox_mode="full")},
        },
    )


def chat(model: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def text_of_chat(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_key_a_is_refused_other_backends_in_every_api_family(shared: Running, root: Path):
    with shared.client() as c:
        native = c.post(
            "/api/v1/prompt",
            json={"prompt": "x", "backend": "stub2", "workdir": str(root)},
            headers=A,
        )
        openai = c.post(CHAT, json=chat("stub2"), headers=A)
        anthropic = c.post(MESSAGES, json={**chat("stub2"), "max_tokens": 10}, headers=A)
    assert native.status_code == 403
    assert native.json()["error"]["code"] == "forbidden"
    assert "may not use backend 'stub2'" in native.json()["error"]["message"]
    assert openai.status_code == 403
    assert openai.json()["error"]["type"] == "permission_error"
    assert "may not use backend 'stub2'" in openai.json()["error"]["message"]
    assert anthropic.status_code == 403
    assert anthropic.json()["error"]["type"] == "permission_error"
    assert shared.pids() == []


def test_key_a_is_refused_a_workdir_outside_its_root(shared: Running, root: Path, outside: Path):
    inside = root / "project"
    escape = root / "project" / "link-out"
    escape.symlink_to(outside)
    with shared.client() as c:
        refused = c.post("/api/v1/prompt", json={"prompt": "x", "workdir": str(outside)}, headers=A)
        via_symlink = c.post(
            "/api/v1/prompt", json={"prompt": "x", "workdir": str(escape)}, headers=A
        )
        via_add_dir = c.post(
            "/api/v1/prompt",
            json={"prompt": "x", "workdir": str(inside), "extra": ["--add-dir", str(outside)]},
            headers=A,
        )
        allowed = c.post(
            "/api/v1/prompt",
            json={"prompt": "x", "model": "pwd", "workdir": str(inside), "ephemeral": True},
            headers=A,
        )
        default_dir = c.post(CHAT, json=chat("stub/pwd"), headers=A)
    for response in (refused, via_symlink, via_add_dir):
        assert response.status_code == 403, response.text
        assert "outside this API key's workdir_roots" in response.json()["error"]["message"]
    assert allowed.status_code == 200
    assert allowed.json()["output"] == str(inside)
    assert text_of_chat(default_dir) == str(root)  # the key's first root is its default


def test_key_a_is_refused_full_access_and_runs_read_only(shared: Running, root: Path):
    body = {"prompt": "x", "workdir": str(root), "model": "perm", "ephemeral": True}
    with shared.client() as c:
        full = c.post("/api/v1/prompt", json={**body, "sandbox_mode": "full"}, headers=A)
        workspace = c.post("/api/v1/prompt", json={**body, "sandbox_mode": "workspace"}, headers=A)
        auto = c.post("/api/v1/prompt", json={**body, "approval_mode": "auto"}, headers=A)
        flag = c.post(
            "/api/v1/prompt",
            json={**body, "extra": ["--permission-mode", "acceptEdits"]},
            headers=A,
        )
        parallel = c.post(
            "/api/v1/parallel",
            json={"tasks": [{"prompt": "x", "workdir": str(root), "sandbox_mode": "full"}]},
            headers=A,
        )
        plain = c.post("/api/v1/prompt", json=body, headers=A)
        asked_read_only = c.post(
            "/api/v1/prompt", json={**body, "sandbox_mode": "read-only"}, headers=A
        )
        compat = c.post(CHAT, json=chat("stub/perm"), headers=A)
    for response, field in (
        (full, "sandbox_mode"),
        (workspace, "sandbox_mode"),
        (auto, "approval_mode"),
        (flag, "--permission-mode"),
        (parallel, "sandbox_mode"),
    ):
        assert response.status_code == 403, response.text
        message = response.json()["error"]["message"]
        assert "is read-only" in message
        assert field in message
    # the config's approval auto/none and sandbox full are not applied to a read-only key
    assert plain.json()["output"] == "default/read-only"
    assert asked_read_only.json()["output"] == "default/read-only"
    assert text_of_chat(compat) == "default/read-only"


def test_a_full_key_may_tighten_its_own_runs(shared: Running):
    body = {"prompt": "x", "model": "perm", "ephemeral": True}
    with shared.client() as c:
        default = c.post("/api/v1/prompt", json=body, headers=B)
        tightened = c.post(
            "/api/v1/prompt",
            json={**body, "sandbox_mode": "read-only", "approval_mode": "always"},
            headers=B,
        )
        other_backend = c.post(CHAT, json=chat("stub2/perm"), headers=B)
    assert default.json()["output"] == "auto/full"  # the server's configured defaults
    assert tightened.json()["output"] == "always/read-only"
    assert text_of_chat(other_backend) == "auto/default"


def test_key_b_cannot_see_or_touch_key_a_sessions(shared: Running, root: Path):
    with shared.client() as c:
        created = c.post(
            "/api/v1/prompt", json={"prompt": "secret plan", "workdir": str(root)}, headers=A
        )
        assert created.status_code == 200, created.text
        sid = created.json()["session_id"]
        own = c.post("/api/v1/prompt", json={"prompt": "bob's own"}, headers=B).json()["session_id"]

        for query in ("", "?backend=stub", f"?workdir={root}", "?status=completed", "?tag=api"):
            listed = c.get(f"/api/v1/sessions{query}", headers=B).json()
            assert [s["id"] for s in listed["sessions"]] == (
                [own] if "workdir" not in query else []
            )
            assert listed["total"] == len(listed["sessions"])
        refused = {
            "get": c.get(f"/api/v1/sessions/{sid}", headers=B),
            "get by prefix": c.get(f"/api/v1/sessions/{sid[:8]}", headers=B),
            "resume": c.post(f"/api/v1/sessions/{sid}/resume", json={"prompt": "more"}, headers=B),
            "prompt with session_id": c.post(
                "/api/v1/prompt", json={"prompt": "more", "session_id": sid}, headers=B
            ),
            "delete": c.delete(f"/api/v1/sessions/{sid}", headers=B),
        }
        for what, response in refused.items():
            assert response.status_code == 404, what
            assert response.json()["error"]["code"] == "session_not_found", what
            assert "secret plan" not in response.text, what

        mine = c.get("/api/v1/sessions", headers=A).json()
        assert [s["id"] for s in mine["sessions"]] == [sid]
        assert mine["sessions"][0]["turn_count"] == 1
        again = c.post(
            f"/api/v1/sessions/{sid}/resume", json={"prompt": "next", "model": "echo"}, headers=A
        )
        assert again.status_code == 200, again.text
        assert c.get(f"/api/v1/sessions/{sid}", headers=A).json()["turn_count"] == 2
        # a read-only key may not delete, even its own; a full key deletes its own
        assert c.delete(f"/api/v1/sessions/{sid}", headers=A).status_code == 403
        assert c.delete(f"/api/v1/sessions/{own}", headers=B).status_code == 200
    assert shared.store.get(sid).owner == "alice"


def test_a_key_limited_to_models_is_refused_others(serve):
    server = serve(keys=[ApiKeyPolicy(name="c", key="key-c", models=["stub/echo", "stub2"])])
    h = {"x-api-key": "key-c"}
    with server.client() as c:
        compat_ok = c.post(CHAT, json=chat("stub/echo"), headers=h)
        alias_ok = c.post(CHAT, json=chat("stub/fast"), headers=h)  # an alias of echo
        whole_backend = c.post(CHAT, json=chat("stub2"), headers=h)
        compat_no = c.post(CHAT, json=chat("stub/slow"), headers=h)
        native_default = c.post(
            "/api/v1/prompt", json={"prompt": "x", "backend": "stub2", "ephemeral": True}, headers=h
        )
        native_unlisted_default = c.post(
            "/api/v1/prompt", json={"prompt": "x", "ephemeral": True}, headers=h
        )
        native_no = c.post(
            "/api/v1/prompt", json={"prompt": "x", "model": "slow", "ephemeral": True}, headers=h
        )
        listed = {m["id"] for m in c.get("/openai/v1/models", headers=h).json()["data"]}
        one_hidden = c.get("/openai/v1/models/stub/slow", headers=h)
        one_visible = c.get("/anthropic/v1/models/stub/echo", headers=h)
    assert [r.status_code for r in (compat_ok, alias_ok, whole_backend)] == [200, 200, 200]
    assert native_default.status_code == 200  # "stub2" in models: its default model
    assert native_unlisted_default.status_code == 403
    assert "the default model of 'stub'" in native_unlisted_default.json()["error"]["message"]
    assert compat_no.status_code == 403
    assert "may not use model 'stub/slow'" in compat_no.json()["error"]["message"]
    assert native_no.status_code == 403
    assert native_no.json()["error"]["message"].startswith("API key 'c' may not use model")
    assert listed == {"stub/echo", "stub2"}
    assert one_hidden.status_code == 404
    assert one_visible.status_code == 200


def test_a_key_max_concurrent_caps_its_runs_in_flight(serve):
    server = serve(keys=[ApiKeyPolicy(name="d", key="key-d", max_concurrent=1)], api_keys=["other"])
    h = {"x-api-key": "key-d"}
    with (
        server.client() as c,
        c.stream("POST", CHAT, json={**chat("stub/hang"), "stream": True}, headers=h) as r,
    ):
        lines = r.iter_lines()
        assert any("thinking" in line for line in lines if line)
        second = c.post(CHAT, json=chat("stub/echo"), headers=h)
        someone_else = c.post(CHAT, json=chat("stub/echo"), headers={"x-api-key": "other"})
    assert second.status_code == 429
    assert "max_concurrent" in second.json()["error"]["message"]
    assert someone_else.status_code == 200
    wait_until(lambda: not server.app.state.server.runs.active, what="the hung run to end")
