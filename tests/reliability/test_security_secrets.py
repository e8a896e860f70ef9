"""API keys and provider tokens never show up where they do not belong.

One world holds four secrets: the server's plain API key, a named key read from an environment
variable, a provider token the config hands to the claude CLI (``backends.claude.env``), and a
wrong key an attacker tries. After a busy run — good and bad requests on every API family,
streamed and not, a crash, a refused workdir, metrics, the audit log, ``clinvk`` in every output
mode, verbose and dry-run, ``config show``, ``sessions show`` — everything the run produced is
grepped: the server's output, the audit log, every HTTP response (headers and body), the
``/metrics`` text, everything ``clinvk`` printed, and every file under the clinvk home except the
config file itself (and its parsed cache, same owner, mode 0600).
"""

from __future__ import annotations

import secrets
import stat
import uuid

import httpx

from reliability.conftest import server_config
from reliability.support.families import FAMILIES, ask
from reliability.support.server import API_KEY, ServerProcess
from reliability.support.world import World

ALICE = f"sk-alice-{secrets.token_hex(16)}"
TOKEN = f"sk-ant-provider-{secrets.token_hex(16)}"
WRONG = f"sk-wrong-{secrets.token_hex(16)}"
SECRETS = {"server key": API_KEY, "named key": ALICE, "provider token": TOKEN, "wrong key": WRONG}


def config(world: World) -> str:
    return server_config(
        keys=[{"name": "alice", "key_env": "ALICE_KEY"}],
        metrics_enabled=True,
        audit_log=str(world.root / "audit.jsonl"),
        top={"backends": {"claude": {"env": {"ANTHROPIC_API_KEY": TOKEN}}}},
    )


def http_dump(response: httpx.Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def test_no_secret_leaks_into_logs_errors_metrics_or_session_files(world: World) -> None:
    produced: dict[str, str] = {}
    env = {"ALICE_KEY": ALICE, "FAULTY_RECORD_ENV": "ANTHROPIC_API_KEY"}
    world.env.update(env)
    with ServerProcess(world, config=config(world), env=env) as server:
        for key in (API_KEY, ALICE):
            with server.client(key=key) as client:
                for family in FAMILIES:
                    for stream in (False, True):
                        for fault in ("", " FAULT:crash"):
                            prompt = f"{family} {uuid.uuid4().hex}{fault}"
                            answer = ask(client, family, prompt, stream=stream)
                            produced[f"{family} {stream} {fault}"] = repr(answer)
                for path in ("/metrics", "/health", "/api/v1/sessions", "/openapi.json"):
                    produced[path] = http_dump(client.get(path))
                refused = client.post(
                    "/api/v1/prompt", json={"prompt": "x", "backend": "claude", "workdir": "/etc"}
                )
                produced["refused workdir"] = http_dump(refused)
        with server.client(key=WRONG) as client:
            for path in ("/api/v1/sessions", f"/openai/v1/models?key={WRONG}", "/nope"):
                produced[f"wrong key {path}"] = http_dump(client.get(path))
            produced["wrong key x-api-key"] = http_dump(
                client.get("/openai/v1/models", headers={"x-api-key": WRONG})
            )
        assert server.stop() == 0
    produced["server output"] = server.output()
    produced["audit log"] = (world.root / "audit.jsonl").read_text(encoding="utf-8")

    for args in (
        ("-b", "claude", "--new", "-o", "json", "cli json"),
        ("-b", "claude", "--new", "-o", "text", "cli text FAULT:crash"),
        ("-b", "claude", "--new", "-o", "stream-json", "cli stream"),
        ("-v", "-b", "claude", "--new", "-o", "text", "cli verbose"),
        ("-b", "claude", "--new", "--dry-run", "-o", "json", "cli dry run"),
        ("sessions", "list", "-o", "json"),
        ("config", "show"),
    ):
        done = world.clinvk(*args)
        produced[" ".join(args)] = done.stdout + done.stderr
    for session in world.sessions_dir.glob("*.json"):
        done = world.clinvk("sessions", "show", session.stem, "-o", "json")
        produced[f"sessions show {session.stem}"] = done.stdout + done.stderr

    own_config = {world.home / "config.yaml", world.home / "cache" / "config.msgpack"}
    for file in ServerProcess.files_under(world.home):
        if file in own_config:  # the user's own config (written by this test), and its cache
            if file.suffix == ".msgpack":
                assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, f"{file} is not private"
            continue
        produced[str(file.relative_to(world.root))] = file.read_bytes().decode("utf-8", "replace")

    # the secrets were really in play: the token reached the CLI, the keys were accepted
    assert any(c["env"].get("ANTHROPIC_API_KEY") == TOKEN for c in world.calls())
    assert '"key":"alice"' in produced["audit log"].replace(" ", "")
    found = {where: leaks(text) for where, text in produced.items() if leaks(text)}
    assert not found, f"secrets found in: {found}"


def test_a_failing_key_command_does_not_print_the_keys(world: World) -> None:
    """A key command that dies after printing keys (to stdout or stderr) is reported without
    them, and the server refuses every request (fails closed) instead of running keyless."""
    keys = world.root / "keys.txt"
    keys.write_text(f"{API_KEY}\n{ALICE}\n", encoding="utf-8")
    command = f"sh -c 'cat {keys}; cat {keys} >&2; exit 3'"
    config = server_config(api_keys=[], api_keys_command=command)
    with ServerProcess(world, config=config) as server:
        with server.client(key=API_KEY) as client:
            refused = client.get("/openai/v1/models")
        with server.client(key=None) as client:
            health = client.get("/health")
        server.stop()
    assert refused.status_code == 503, refused.text
    produced = {
        "refused": http_dump(refused),
        "health": http_dump(health),
        "output": server.output(),
    }
    found = {where: leaks(text) for where, text in produced.items() if leaks(text)}
    assert not found, f"secrets found in: {found}"
