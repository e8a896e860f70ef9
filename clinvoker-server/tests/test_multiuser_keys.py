"""Key sources: a command (or gopass) printing the key list, its formats, and failing closed.

The servers here are real ``clinvk serve`` processes so that what they log can be checked: a
key command's output and the keys must never appear in the log.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clinvoker.config import ApiKeyPolicy
from conftest import alive
from multiuser_server import ServerProcess, write_script

KEYS = "/api/v1/backends"
CHAT = "/openai/v1/chat/completions"
FAIL_LINE = "api_keys_command failed: exit 1; refusing all API requests until it succeeds (reload with SIGHUP)"


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``start(config, **env)`` → a running :class:`ServerProcess` (stopped after the test)."""
    started: list[ServerProcess] = []

    def run(config: dict[str, Any] | None = None, **env: str) -> ServerProcess:
        server = ServerProcess(tmp_path, config, **env)
        started.append(server)
        return server

    yield run
    for server in started:
        assert server.stop() == 0, server.log


def status(server: ServerProcess, key: str | None, path: str = KEYS) -> int:
    headers = {"x-api-key": key} if key else {}
    with server.client() as c:
        return c.get(path, headers=headers).status_code


def key_command(tmp_path: Path, output: str, *, exit_code: int = 0, name: str = "keys") -> str:
    """A command printing ``output`` (plus noise on stderr) and exiting ``exit_code``."""
    script = write_script(
        tmp_path / f"{name}.py",
        "import sys\n"
        f"sys.stdout.write({output!r})\n"
        "sys.stderr.write('stderr-noise-SECRETISH\\n')\n"
        f"sys.exit({exit_code})\n",
    )
    return shlex.join([str(script), "--flag with space"])


def test_a_command_printing_two_keys(start, tmp_path):
    command = key_command(tmp_path, "alpha-key-111\nbeta-key-222\n")
    server = start({"server": {"api_keys_command": command}})
    assert status(server, "alpha-key-111") == 200
    assert status(server, "beta-key-222") == 200
    assert status(server, "gamma-key-333") == 401
    assert status(server, None) == 401
    assert status(server, None, "/health") == 200
    server.stop()
    for secret in ("alpha-key-111", "beta-key-222", "stderr-noise-SECRETISH"):
        assert secret not in server.log


def test_the_key_list_formats(tmp_path, serve):
    root = tmp_path / "r"
    root.mkdir()
    listing = (
        f"- {{name: ro, key: k-readonly, access: read-only, workdir_roots: [{root}]}}\n"
        "- name: ci\n  key: 'k-ci:with:colons'\n  backends: [stub2]\n"
        "- plain-key-in-a-list\n"
    )
    yaml_cmd = key_command(tmp_path, listing, name="yaml")
    lines_file = tmp_path / "keys.txt"
    lines_file.write_text("# team keys\nalice:k-alice, bob:k-bob\nk-unnamed\n")
    server = serve(api_keys_command=yaml_cmd, api_keys_file=str(lines_file))
    perm = {"model": "stub/perm", "messages": [{"role": "user", "content": "x"}]}
    with server.client() as c:

        def chat(key: str, body: dict = perm) -> Any:
            return c.post(CHAT, json=body, headers={"x-api-key": key})

        assert chat("k-readonly").json()["choices"][0]["message"]["content"] == "default/read-only"
        assert chat("k-ci:with:colons").status_code == 403  # only stub2
        assert chat("plain-key-in-a-list").status_code == 200
        assert chat("k-unnamed").status_code == 200
        sid = c.post(
            "/api/v1/prompt", json={"prompt": "mine"}, headers={"x-api-key": "k-alice"}
        ).json()["session_id"]
        assert c.get(f"/api/v1/sessions/{sid}", headers={"x-api-key": "k-bob"}).status_code == 404
        assert c.get(f"/api/v1/sessions/{sid}", headers={"x-api-key": "k-alice"}).status_code == 200
        assert chat("alice").status_code == 401  # a name is not a key
    assert server.store.get(sid).owner == "alice"


def test_a_failing_command_fails_closed_and_a_reload_recovers(start, tmp_path):
    state = tmp_path / "vault-open"
    script = write_script(
        tmp_path / "vault.py",
        "import os, sys\n"
        f"if not os.path.exists({str(state)!r}):\n"
        "    print('partial-output-SECRETISH')\n"
        "    sys.stderr.write('vault locked: SECRETISH\\n')\n"
        "    sys.exit(1)\n"
        "print('vault-key-1')\n",
    )
    config = {"server": {"api_keys_command": str(script), "api_keys": ["config-key"]}}
    server = start(config)
    assert server.wait_for_log("api_keys_command failed").endswith(FAIL_LINE)
    with server.client() as c:
        health = c.get("/health")
        native = c.get(KEYS, headers={"x-api-key": "config-key"})
        anonymous = c.get(KEYS)
        openai = c.post(CHAT, json={"model": "stub", "messages": []}, headers={"x-api-key": "x"})
        anthropic = c.post("/anthropic/v1/messages", json={}, headers={"x-api-key": "x"})
    assert health.status_code == 200
    assert health.json()["status"] == "unhealthy"
    assert health.json()["auth"]["status"] == "failed"
    assert "api_keys_command failed: exit 1" in health.json()["auth"]["error"]
    for response in (native, anonymous, openai, anthropic):
        assert response.status_code == 503
        assert "API keys are unavailable (api_keys_command failed: exit 1)" in response.text
    assert native.json()["error"]["code"] == "keys_unavailable"
    assert server.log.count("api_keys_command failed") == 1  # one line, not one per request

    state.touch()
    mark = server.mark()
    server.hangup()
    server.wait_for_log("configuration reloaded (SIGHUP)", after=mark)
    assert status(server, "vault-key-1") == 200
    assert status(server, "config-key") == 200
    with server.client() as c:
        assert c.get("/health").json()["auth"] == {"status": "ok"}
    server.stop()
    for secret in ("SECRETISH", "vault-key-1", "config-key"):
        assert secret not in server.log


def test_a_command_that_hangs_times_out_and_is_killed(start, tmp_path):
    pid_file = tmp_path / "hung.pid"
    script = write_script(
        tmp_path / "hang.py",
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n",
    )
    server = start(
        {"server": {"api_keys_command": str(script), "api_keys_command_timeout_secs": 1}}
    )
    line = server.wait_for_log("api_keys_command failed")
    assert "api_keys_command failed: timed out after 1s; refusing all API requests" in line
    assert not alive(int(pid_file.read_text()))
    assert status(server, "anything") == 503


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("no-such-key-tool show clinvk", "command not found: no-such-key-tool"),
        ("EMPTY", "it printed no keys"),
        ("BADLIST", "its output is not a key list"),
    ],
)
def test_missing_or_useless_commands_fail_closed(start, tmp_path, command, reason):
    if command == "EMPTY":
        command = key_command(tmp_path, "# nothing here\n\n")
    elif command == "BADLIST":
        command = key_command(tmp_path, "- {name: x}\n")
    server = start({"server": {"api_keys_command": command}})
    assert f"api_keys_command failed: {reason}" in server.wait_for_log("api_keys_command failed")
    assert status(server, "x") == 503


def test_the_gopass_path_runs_gopass_show(start, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_script(
        bin_dir / "gopass",
        "import sys\n"
        "if sys.argv[1:] != ['show', '-o', 'team/clinvk']:\n"
        "    sys.exit(2)\n"
        "print('gopass-key-1,gopass-key-2')\n",
    )
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    server = start(None, PATH=path, CLINVK_API_KEYS_GOPASS_PATH="team/clinvk")
    assert status(server, "gopass-key-1") == 200
    assert status(server, "gopass-key-2") == 200
    assert status(server, "gopass-key-3") == 401


def test_a_key_source_with_no_keys_refuses_everybody(serve, tmp_path):
    empty = tmp_path / "keys.txt"
    empty.write_text("# all keys revoked\n")
    server = serve(api_keys_file=str(empty))
    with server.client() as c:
        assert c.get(KEYS).status_code == 401
        assert c.get(KEYS, headers={"x-api-key": "# all keys revoked"}).status_code == 401
        assert c.get("/health").json()["auth"] == {"status": "ok"}


def test_bad_key_sources_are_config_errors_at_start(tmp_path, monkeypatch):
    from clinvoker.config import Config, ServerConfig
    from clinvoker.errors import ConfigError
    from clinvoker_server.app import create_app
    from server_stub import stub_host

    monkeypatch.setenv("SAME_KEY_ENV", "same-secret")
    twice = tmp_path / "k.txt"
    twice.write_text("alice:first-secret\nalice:second-secret\n")
    cases = {
        "server.api_keys_command: cannot split": {"api_keys_command": "'unbalanced"},
        "invalid gopass path": {"api_keys_gopass_path": "a;rm -rf"},
        "cannot read server.api_keys_file": {"api_keys_file": str(tmp_path / "nope")},
        "'alice' is given to two different keys": {"api_keys_file": str(twice)},
        "one API key is named both 'a' and 'b'": {
            "keys": [
                ApiKeyPolicy(name="a", key="same-secret"),
                ApiKeyPolicy(name="b", key_env="SAME_KEY_ENV"),
            ]
        },
    }
    for message, settings in cases.items():
        with pytest.raises(ConfigError) as caught:
            create_app(Config(server=ServerConfig(**settings)), host=stub_host())
        assert message in str(caught.value)
        assert "secret" not in str(caught.value).replace("same-secret", "")
        assert "same-secret" not in str(caught.value)


def test_unnamed_keys_share_sessions_like_a_server_without_keys(serve):
    server = serve(api_keys=["k1", "k2"])
    with server.client() as c:
        sid = c.post("/api/v1/prompt", json={"prompt": "x"}, headers={"x-api-key": "k1"}).json()[
            "session_id"
        ]
        assert c.get(f"/api/v1/sessions/{sid}", headers={"x-api-key": "k2"}).status_code == 200
    assert server.store.get(sid).owner is None


def test_key_list_parsing_edge_cases():
    from clinvoker.errors import ConfigError
    from clinvoker_server.keysources import parse_key_list

    plain = parse_key_list(" a1 , b2\n# c3\n\nteam-x:k:with:colons\nsk-ant-api03_ZZ==\n", "src")
    assert [(secret, p.name if p else None) for secret, p in plain] == [
        ("a1", None),
        ("b2", None),
        ("k:with:colons", "team-x"),
        ("sk-ant-api03_ZZ==", None),
    ]
    json_list = parse_key_list(
        '[{"name": "j", "key": "k-json", "access": "read-only"}, "k-plain"]', "src"
    )
    assert json_list[0][0] == "k-json"
    assert json_list[0][1] is not None
    assert json_list[0][1].access == "read-only"
    assert json_list[1] == ("k-plain", None)
    for bad, message in (
        ("- {name: j, key: k, access: admin}", "entry 1"),
        ("- {name: 'bad name', key: k}", "is not a key name"),
        ("- {name: j, key_env: UNSET_VAR_FOR_TEST}", "$UNSET_VAR_FOR_TEST is unset"),
        ("- [nested]", "entry 1 must be a key string or a mapping"),
        ("[unclosed", "not a valid YAML/JSON key list"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_key_list(bad, "the command", env={})
        assert message in str(caught.value)
        assert str(caught.value).startswith("the command")
