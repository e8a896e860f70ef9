"""A shared ``clinvk serve`` with the REAL claude / codex / gemini CLIs: per-key policies.

A read-only key's runs must reach each real CLI with that CLI's read-only flags (read back
from the audit log's exact command line) and still answer; asking for more is refused before
any CLI starts; a key limited to one backend cannot use the others; a second key cannot see
the first key's sessions.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from support.clis import TEST_MODELS, CliEnvFactory, clinvk_executable, start_with_ready_file

pytestmark = [pytest.mark.realcli]

HELLO = "Hello from fake model"
READ_ONLY_FLAG = {
    "claude": "--permission-mode=plan",
    "codex": "-s read-only",
    "gemini": "--approval-mode=plan",
}
READER = {"x-api-key": "sk-reader-0001"}
WRITER = {"x-api-key": "sk-writer-0002"}
CLAUDE_ONLY = {"x-api-key": "sk-claude-only-0003"}


class Served:
    def __init__(self, url: str, audit: Path) -> None:
        self.url = url
        self.audit = audit

    def audit_lines(self) -> list[dict[str, object]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines()]


@pytest.fixture
def shared_server(cli_env: CliEnvFactory, tmp_path: Path) -> Iterator[Served]:
    env = dict(cli_env("all"))
    workdir = cli_env("all").workdir
    audit = tmp_path / "audit.jsonl"
    config = {
        "backends": {name: {"model": model} for name, model in TEST_MODELS.items()},
        "server": {
            "audit_log": str(audit),
            "keys": [
                {
                    "name": "reader",
                    "key": READER["x-api-key"],
                    "access": "read-only",
                    "workdir_roots": [str(workdir)],
                },
                {"name": "writer", "key": WRITER["x-api-key"]},
                {"name": "claude-only", "key": CLAUDE_ONLY["x-api-key"], "backends": ["claude"]},
            ],
        },
    }
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env["CLINVK_CONFIG"] = str(config_file)
    proc, url = start_with_ready_file(
        [str(clinvk_executable()), "serve", "--port", "0", "--ready-file"],
        tmp_path / "ready",
        env=env,
        cwd=workdir,
    )
    yield Served(url, audit)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    for key in (READER, WRITER, CLAUDE_ONLY):
        assert key["x-api-key"] not in err
        assert key["x-api-key"] not in audit.read_text()


@pytest.mark.parametrize("backend", ["claude", "codex", "gemini"])
def test_a_read_only_key_runs_each_cli_read_only(shared_server: Served, backend: str) -> None:
    chat = {"model": backend, "messages": [{"role": "user", "content": "say hello"}]}
    with httpx.Client(base_url=shared_server.url, timeout=180) as c:
        wider = c.post(
            "/api/v1/prompt",
            json={"prompt": "say hello", "backend": backend, "sandbox_mode": "full"},
            headers=READER,
        )
        reply = c.post("/openai/v1/chat/completions", json=chat, headers=READER)
        full = c.post("/openai/v1/chat/completions", json=chat, headers=WRITER)
    assert wider.status_code == 403
    assert "is read-only" in wider.json()["error"]["message"]
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == HELLO
    assert full.status_code == 200, full.text
    lines = {str(line["key"]): line for line in shared_server.audit_lines()}
    assert set(lines) == {"reader", "writer"}  # the refused request started nothing
    assert READ_ONLY_FLAG[backend] in str(lines["reader"]["command"])
    assert READ_ONLY_FLAG[backend] not in str(lines["writer"]["command"])
    assert lines["reader"]["status"] == "ok"
    assert lines["reader"]["backend"] == backend


def test_backend_policy_and_session_isolation_with_a_real_cli(shared_server: Served) -> None:
    with httpx.Client(base_url=shared_server.url, timeout=180) as c:
        refused = c.post(
            "/anthropic/v1/messages",
            json={
                "model": "codex",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "x"}],
            },
            headers=CLAUDE_ONLY,
        )
        created = c.post(
            "/api/v1/prompt", json={"prompt": "say hello", "backend": "claude"}, headers=CLAUDE_ONLY
        )
        assert created.status_code == 200, created.text
        assert created.json()["output"] == HELLO
        sid = created.json()["session_id"]
        assert c.get("/api/v1/sessions", headers=WRITER).json()["total"] == 0
        assert c.get(f"/api/v1/sessions/{sid}", headers=WRITER).status_code == 404
        resumed = c.post(f"/api/v1/sessions/{sid}/resume", json={"prompt": "x"}, headers=WRITER)
        assert resumed.status_code == 404
        again = c.post(
            f"/api/v1/sessions/{sid}/resume", json={"prompt": "say hello"}, headers=CLAUDE_ONLY
        )
        assert again.status_code == 200, again.text
        assert again.json()["output"] == HELLO
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_error"
