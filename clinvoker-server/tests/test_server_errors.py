"""Every error answers in its API family's shape, with the right status and headers."""

from __future__ import annotations

import pytest
import server_specs as specs


def assert_openai_error(body: dict, kind: str | None = None) -> dict:
    specs.openai(body, "ErrorResponse")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    if kind:
        assert body["error"]["type"] == kind
    return body["error"]


def assert_anthropic_error(body: dict, kind: str) -> None:
    specs.anthropic(body, "ErrorResponse")
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["request_id"]


def assert_native_error(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"].startswith("req_")


def test_unknown_routes_answer_in_their_familys_shape(server):
    with server.client() as c:
        openai = c.get("/openai/v1/does-not-exist")
        anthropic = c.get("/anthropic/v1/does-not-exist")
        native = c.get("/api/v1/does-not-exist")
        other = c.get("/nothing-here")
    assert openai.status_code == anthropic.status_code == native.status_code == 404
    assert_openai_error(openai.json(), "invalid_request_error")
    assert_anthropic_error(anthropic.json(), "not_found_error")
    assert anthropic.headers["request-id"] == anthropic.json()["request_id"]
    assert_native_error(native.json(), "not_found")
    assert_native_error(other.json(), "not_found")


def test_wrong_method_is_405_with_allow_header(server):
    with server.client() as c:
        r = c.get("/openai/v1/chat/completions")
        a = c.delete("/anthropic/v1/messages")
    assert r.status_code == 405
    assert "POST" in r.headers["allow"]
    assert_openai_error(r.json())
    assert a.status_code == 405
    assert_anthropic_error(a.json(), "invalid_request_error")


def test_request_id_is_echoed_when_safe_and_replaced_when_not(server):
    with server.client() as c:
        mine = c.get("/health", headers={"x-request-id": "my-trace-42"})
        evil = c.get("/health", headers={"x-request-id": "bad id\twith spaces"})
    assert mine.headers["x-request-id"] == "my-trace-42"
    assert evil.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/openai/v1/chat/completions", "openai"),
        ("/anthropic/v1/messages", "anthropic"),
        ("/api/v1/prompt", "native"),
    ],
)
def test_malformed_json_is_400(server, path, family):
    with server.client() as c:
        r = c.post(path, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    if family == "openai":
        assert "not valid JSON" in assert_openai_error(body, "invalid_request_error")["message"]
    elif family == "anthropic":
        assert_anthropic_error(body, "invalid_request_error")
    else:
        assert_native_error(body, "invalid_request")


def test_missing_fields_name_the_field(server):
    with server.client() as c:
        openai = c.post("/openai/v1/chat/completions", json={"messages": []})
        anthropic = c.post("/anthropic/v1/messages", json={"model": "stub", "messages": []})
        native = c.post("/api/v1/prompt", json={"backend": "stub"})
        extra = c.post("/api/v1/prompt", json={"prompt": "hi", "surprise": 1})
    assert openai.status_code == 400
    assert "model" in assert_openai_error(openai.json())["message"]
    assert anthropic.status_code == 400
    assert "max_tokens" in anthropic.json()["error"]["message"]
    assert native.status_code == 422
    assert_native_error(native.json(), "validation_error")
    assert "prompt" in native.json()["error"]["message"]
    assert extra.status_code == 422
    assert "surprise" in extra.json()["error"]["message"]


def test_unknown_model_is_404_in_each_family(server):
    with server.client() as c:
        openai = c.post(
            "/openai/v1/chat/completions",
            json={"model": "gpt-nope", "messages": [{"role": "user", "content": "hi"}]},
        )
        anthropic = c.post(
            "/anthropic/v1/messages",
            json={
                "model": "claude-nope",
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        model = c.get("/openai/v1/models/gpt-nope")
    assert openai.status_code == 404
    err = assert_openai_error(openai.json(), "invalid_request_error")
    assert err["code"] == "model_not_found"
    assert err["param"] == "model"
    assert anthropic.status_code == 404
    assert_anthropic_error(anthropic.json(), "not_found_error")
    assert model.status_code == 404


def test_native_bad_backend_and_workdir_are_4xx(server, tmp_path):
    plain_file = tmp_path / "file.txt"
    plain_file.write_text("x")
    with server.client() as c:
        backend = c.post("/api/v1/prompt", json={"backend": "nope", "prompt": "hi"})
        relative = c.post("/api/v1/prompt", json={"prompt": "hi", "workdir": "rel/dir"})
        missing = c.post("/api/v1/prompt", json={"prompt": "hi", "workdir": str(tmp_path / "gone")})
        not_dir = c.post("/api/v1/prompt", json={"prompt": "hi", "workdir": str(plain_file)})
        blocked = c.post("/api/v1/prompt", json={"prompt": "hi", "workdir": "/etc"})
        flag = c.post("/api/v1/prompt", json={"prompt": "hi", "extra": ["--dangerous"]})
        empty = c.post("/api/v1/prompt", json={"prompt": "  "})
    assert backend.status_code == 404
    assert_native_error(backend.json(), "unknown_backend")
    assert relative.status_code == 422
    assert "absolute" in relative.json()["error"]["message"]
    assert missing.status_code == 422
    assert "does not exist" in missing.json()["error"]["message"]
    assert not_dir.status_code == 422
    assert blocked.status_code == 403
    assert "blocked" in blocked.json()["error"]["message"]
    assert flag.status_code == 422
    assert "not allowed" in flag.json()["error"]["message"]
    assert empty.status_code == 400


def test_symlink_into_a_blocked_directory_is_refused(server, tmp_path):
    link = tmp_path / "sneaky"
    link.symlink_to("/etc")
    with server.client() as c:
        r = c.post("/api/v1/prompt", json={"prompt": "hi", "workdir": str(link)})
    assert r.status_code == 403
    assert "blocked" in r.json()["error"]["message"]


def test_configured_blocked_prefixes_extend_the_defaults(serve, tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    server = serve(blocked_workdir_prefixes=[str(private)])
    with server.client() as c:
        mine = c.post("/api/v1/prompt", json={"prompt": "hi", "workdir": str(private)})
        default = c.post("/api/v1/prompt", json={"prompt": "hi", "workdir": "/etc"})
    assert mine.status_code == 403
    assert default.status_code == 403


def test_a_bug_is_a_500_in_the_family_shape_with_the_request_id(server, monkeypatch):
    def broken(**_kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.store, "list", broken)
    with server.client() as c:
        r = c.get("/api/v1/sessions", headers={"x-request-id": "bug-1"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "bug-1"
    body = r.json()["error"]
    assert body["code"] == "internal_error"
    assert "RuntimeError" in body["message"]
    assert "disk on fire" not in body["message"]
    assert body["request_id"] == "bug-1"


def test_odd_content_is_a_400_naming_the_part(server):
    with server.client() as c:
        number = c.post(
            "/openai/v1/responses",
            json={"model": "stub", "input": [{"role": "user", "content": 5}]},
        )
        image = c.post(
            "/openai/v1/chat/completions",
            json={
                "model": "stub",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            },
        )
        no_text = c.post(
            "/anthropic/v1/messages",
            json={
                "model": "stub",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "text"}]}],
            },
        )
    assert number.status_code == 400
    assert assert_openai_error(number.json())["param"] == "input[0].content"
    assert image.status_code == 400
    assert assert_openai_error(image.json())["param"] == "messages[0].content[0]"
    assert no_text.status_code == 400
    assert_anthropic_error(no_text.json(), "invalid_request_error")
