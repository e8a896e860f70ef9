"""Hot reload of a running ``clinvk serve``: the config file changing, SIGHUP, bad configs.

Every wait is on a condition with a deadline (polling the server or its log), never a sleep.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from multiuser_server import ServerProcess, write_config, write_script

CHAT = "/openai/v1/chat/completions"
ALICE = {"name": "alice", "key": "key-alice"}
BOB = {"name": "bob", "key": "key-bob"}


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def run(config: dict[str, Any], **env: str) -> ServerProcess:
        server = ServerProcess(tmp_path, config, **env)
        started.append(server)
        return server

    yield run
    for server in started:
        assert server.stop() == 0, server.log


def status(server: ServerProcess, key: str) -> int:
    with server.client() as c:
        return c.get("/api/v1/backends", headers={"x-api-key": key}).status_code


def within(seconds: float, check: Callable[[], bool], what: str) -> float:
    """Poll ``check`` until true; fail after ``seconds``. Returns the time it took."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > seconds:
            raise AssertionError(f"{what} not within {seconds}s")
        time.sleep(0.02)
    return time.monotonic() - began


def test_adding_a_key_to_the_file_works_within_2s_and_a_stream_survives(start):
    server = start({"server": {"keys": [ALICE]}}, STUB_DELAY="0.2")
    assert status(server, "key-bob") == 401
    body = {"model": "stub/slow", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    headers = {"x-api-key": "key-alice"}
    with server.client() as c, c.stream("POST", CHAT, json=body, headers=headers) as stream:
        lines = stream.iter_lines()
        received = [next(lines)]
        write_config(server.config_file, {"server": {"keys": [ALICE, BOB]}})
        within(2.0, lambda: status(server, "key-bob") == 200, "the new key to work")
        with server.client() as probe:
            assert probe.get("/health").json()["active_runs"] == 1  # still streaming
        received += list(lines)
        assert stream.status_code == 200
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in received
        if line.startswith("data: {")
    )
    assert text == "".join(f"w{i} " for i in range(20))
    assert [line for line in received if line][-1] == "data: [DONE]"
    assert status(server, "key-alice") == 200
    assert "configuration reloaded" in server.wait_for_log("configuration reloaded")


def test_sighup_reruns_the_key_command(start, tmp_path):
    vault = tmp_path / "vault.txt"
    vault.write_text("old-key\n")
    script = write_script(tmp_path / "show.py", f"print(open({str(vault)!r}).read())\n")
    server = start({"server": {"api_keys_command": str(script)}})
    assert status(server, "old-key") == 200
    vault.write_text("new-key\n")  # the vault is not watched: only SIGHUP picks this up
    mark = server.mark()
    server.hangup()
    assert "configuration reloaded (SIGHUP)" in server.wait_for_log("reloaded", after=mark)
    assert status(server, "new-key") == 200
    assert status(server, "old-key") == 401


def test_an_invalid_config_is_rejected_and_the_old_keys_stay(start):
    server = start({"server": {"keys": [ALICE]}})
    mark = server.mark()
    server.config_file.write_text("server:\n  keys: [{name: bob, key: key-bob}\n")  # broken YAML
    line = server.wait_for_log("config reload rejected", after=mark)
    assert "invalid YAML" in line
    assert line.endswith("keeping the previous configuration")
    assert status(server, "key-alice") == 200
    assert status(server, "key-bob") == 401

    mark = server.mark()
    write_config(server.config_file, {"server": {"keys": [ALICE, {**BOB, "access": "admin"}]}})
    line = server.wait_for_log("config reload rejected", after=mark)
    assert "'admin'" in line
    assert "key-bob" not in server.log
    assert status(server, "key-bob") == 401

    mark = server.mark()
    server.hangup()
    line = server.wait_for_log("config reload rejected (SIGHUP)", after=mark)
    assert status(server, "key-alice") == 200

    mark = server.mark()
    write_config(server.config_file, {"server": {"keys": [ALICE, BOB]}})
    server.wait_for_log("configuration reloaded", after=mark)
    assert status(server, "key-bob") == 200


def test_cors_rate_limits_and_backend_defaults_reload(start):
    server = start({"server": {"keys": [ALICE]}})
    preflight = {
        "origin": "https://app.example",
        "access-control-request-method": "POST",
    }
    perm = {"model": "stub/perm", "messages": [{"role": "user", "content": "x"}]}
    headers = {"x-api-key": "key-alice"}

    def answer() -> str:
        with server.client() as c:
            reply = c.post(CHAT, json=perm, headers=headers)
        return str(reply.json()["choices"][0]["message"]["content"])

    with server.client() as c:
        assert c.options(CHAT, headers=preflight).status_code == 403
    assert answer() == "default/default"
    limited = {**ALICE, "rate_limit_rps": 0.01, "rate_limit_burst": 2}
    mark = server.mark()
    write_config(
        server.config_file,
        {
            "server": {"keys": [limited], "cors_allowed_origins": ["https://app.example"]},
            "unified_flags": {"sandbox_mode": "workspace"},
            "backends": {"stub": {"approval_mode": "auto"}},
        },
    )
    server.wait_for_log("configuration reloaded", after=mark)
    with server.client() as c:
        allowed = c.options(CHAT, headers=preflight)
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert answer() == "auto/workspace"
    assert status(server, "key-alice") == 200  # the burst of 2 is used up here
    assert status(server, "key-alice") == 429


def test_settings_that_need_a_restart_are_named(start):
    server = start({"server": {"queue_size": 16}})
    mark = server.mark()
    write_config(server.config_file, {"server": {"queue_size": 3, "port": 9}})
    line = server.wait_for_log("restart the server", after=mark)
    assert "server.port changed" in line or "server.queue_size changed" in line
    with server.client() as c:
        assert c.get("/health").status_code == 200
