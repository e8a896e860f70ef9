"""The audit log: one JSON line per run, with who/what/where/how long, never a secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from clinvoker.config import ApiKeyPolicy, BackendConfig
from conftest import wait_until

SECRETS = ("key-of-alice", "plain-key-42", "tok-123456", "sk-config-secret", "hunter2-pw")
FIELDS = {
    "ts",
    "request_id",
    "key",
    "backend",
    "model",
    "workdir",
    "session_id",
    "command",
    "duration_ms",
    "exit_code",
    "status",
    "error_code",
    "tokens",
}


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_audit_lines_have_the_fields_and_no_secrets(serve, tmp_path, workdir):
    audit = tmp_path / "audit.jsonl"
    server = serve(
        keys=[ApiKeyPolicy(name="alice", key="key-of-alice")],
        api_keys=["plain-key-42"],
        audit_log=str(audit),
        config={
            "backends": {
                "stub": BackendConfig(
                    extra_flags=[
                        "--auth-token",
                        "tok-123456",
                        "--api-key=sk-config-secret",
                        "-c",
                        "db.password=hunter2-pw",
                        "--verbose",
                    ]
                )
            }
        },
    )
    alice = {"x-api-key": "key-of-alice"}
    with server.client() as c:
        native = c.post(
            "/api/v1/prompt",
            json={"prompt": "my key is key-of-alice.", "workdir": workdir},
            headers=alice,
        )
        crashed = c.post(
            "/api/v1/prompt",
            json={"prompt": "x", "model": "crash", "ephemeral": True},
            headers={"x-api-key": "plain-key-42"},
        )
        chat = c.post(
            "/openai/v1/chat/completions",
            json={"model": "stub2", "messages": [{"role": "user", "content": "hello"}]},
            headers=alice,
        )
        parallel = c.post(
            "/api/v1/parallel",
            json={"tasks": [{"prompt": "a", "backend": "stub"}, {"prompt": "b"}]},
            headers=alice,
        )
    assert [r.status_code for r in (native, crashed, chat, parallel)] == [200, 200, 200, 200]
    wait_until(lambda: len(read(audit)) == 5, what="five audit lines")
    lines = read(audit)
    by_request = {line["request_id"]: line for line in lines}

    first = by_request[native.headers["x-request-id"]]
    assert set(first) >= FIELDS
    assert first["key"] == "alice"
    assert (first["backend"], first["model"], first["workdir"]) == ("stub", "echo", workdir)
    assert first["session_id"] == native.json()["session_id"]
    assert (first["exit_code"], first["status"], first["error_code"]) == (0, "ok", None)
    assert first["tokens"] == {"input": 14, "output": 7, "cached": 2}  # stub: words + 10
    assert first["duration_ms"] > 0
    command = first["command"]
    assert "server_stub_cli.py --model echo" in command
    assert "--auth-token '***'" in command or "--auth-token ***" in command
    assert "--api-key=***" in command
    assert "db.password=***" in command
    assert "--verbose" in command
    assert "my key is ***." in command

    failed = by_request[crashed.headers["x-request-id"]]
    assert failed["key"].startswith("key-")  # an unnamed key: a digest-based name
    assert (failed["exit_code"], failed["status"]) == (3, "error")
    assert failed["session_id"] is None

    compat = by_request[chat.headers["x-request-id"]]
    assert (compat["backend"], compat["key"], compat["status"]) == ("stub2", "alice", "ok")

    orchestrated = [line for line in lines if line.get("route") == "parallel"]
    assert len(orchestrated) == 2
    assert {line["request_id"] for line in orchestrated} == {parallel.headers["x-request-id"]}
    assert all(line["command"] is None and line["exit_code"] == 0 for line in orchestrated)

    text = audit.read_text()
    for secret in SECRETS:
        assert secret not in text
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600


def test_an_existing_audit_file_is_narrowed_to_0600_and_appended(serve, tmp_path):
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"earlier":"line"}\n')
    audit.chmod(0o644)
    server = serve(audit_log=str(audit))
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    with server.client() as c:
        c.post("/api/v1/prompt", json={"prompt": "x", "ephemeral": True})
    wait_until(lambda: len(read(audit)) == 2, what="an appended line")
    assert read(audit)[0] == {"earlier": "line"}
    assert read(audit)[1]["key"] == "anonymous"


def test_no_audit_log_by_default(server, tmp_path):
    with server.client() as c:
        assert c.post("/api/v1/prompt", json={"prompt": "x", "ephemeral": True}).status_code == 200
    assert not list(tmp_path.glob("**/*audit*"))
