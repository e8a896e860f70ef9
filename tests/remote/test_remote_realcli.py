"""``clinvk --server`` against ``clinvk serve`` with the REAL claude / codex / gemini behind it.

Every CLI talks to the fake model API (echo mode: the answer quotes the prompt). The same
command is run locally and through the server; the ``-o json`` objects must be identical except
for timings and ids, the streamed events identical except for ids and timings, and the exit codes
the same — for prompt, resume and compare, and for a backend that fails.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.clis import TEST_MODELS, CliEnv, CliEnvFactory, ClinvkRunner, clinvk_executable

from remote.conftest import Serve, ServerProcess

pytestmark = pytest.mark.realcli

BACKENDS = ["claude", "codex", "gemini"]
VARYING = {
    "duration_seconds",
    "session_id",
    "clinvk_session_id",
    "start_time",
    "end_time",
    "total_duration_seconds",
}
"""Fields that differ between any two runs (ids and timings)."""


@dataclass
class World:
    server: ServerProcess
    local: dict[str, str]
    remote: dict[str, str]
    workdir: Path


def start_world(
    base: CliEnv, serve: Serve, remote_env: Any, tmp_path: Path, name: str = "local"
) -> World:
    env = dict(base)
    for backend, model in TEST_MODELS.items():
        env[f"CLINVK_{backend.upper()}_MODEL"] = model
    server = serve(
        [str(clinvk_executable()), "serve", "--port", "0", "--ready-file"], env, base.workdir
    )
    local = {**env, "CLINVK_HOME": str(tmp_path / f"{name}-clinvk-home")}
    return World(server, local, remote_env(server, env), base.workdir)


@pytest.fixture
def world(cli_env: CliEnvFactory, serve: Serve, remote_env: Any, tmp_path: Path) -> World:
    """A server and the matching local environment; the CLIs answer in echo mode."""
    return start_world(cli_env("all", "echo"), serve, remote_env, tmp_path)


def strip(value: Any) -> Any:
    """``value`` without the fields that differ between runs (ids, timings)."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def both(
    clinvk: ClinvkRunner, world: World, args: list[str], *, remote_args: list[str] | None = None
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    local = clinvk(args, world.local, cwd=world.workdir, timeout=120)
    remote = clinvk(remote_args or args, world.remote, cwd=world.workdir, timeout=120)
    return tuple(local), tuple(remote)  # type: ignore[return-value]


def same_json(local: str, remote: str) -> dict[str, Any]:
    a, b = json.loads(local), json.loads(remote)
    assert list(b) == list(a)  # the same fields in the same order
    assert strip(b) == strip(a)
    return b  # type: ignore[no-any-return]


def run_args(backend: str, *rest: str) -> list[str]:
    return ["-b", backend, "-m", TEST_MODELS[backend], *rest]


@pytest.mark.parametrize("backend", BACKENDS)
def test_prompt_json_is_the_local_json(world: World, clinvk: ClinvkRunner, backend: str) -> None:
    args = run_args(backend, "-o", "json", "--new", "-w", str(world.workdir), "say hi")
    (lrc, lout, lerr), (rrc, rout, rerr) = both(clinvk, world, args)
    assert lrc == 0, lerr
    assert rrc == 0, rerr
    remote = same_json(lout, rout)
    assert remote["content"] == "Echo: say hi"
    assert remote["backend"] == backend
    assert remote["session_id"]
    assert len(remote["clinvk_session_id"]) == 32


@pytest.mark.parametrize("backend", BACKENDS)
def test_resume_json_is_the_local_json(world: World, clinvk: ClinvkRunner, backend: str) -> None:
    first = run_args(backend, "-o", "json", "--new", "remember the word kiwi")
    (lrc, lout, lerr), (rrc, rout, rerr) = both(clinvk, world, first)
    assert (lrc, rrc) == (0, 0), lerr + rerr
    local_id = json.loads(lout)["clinvk_session_id"]
    remote_id = json.loads(rout)["clinvk_session_id"]
    (lrc, lout, lerr), (rrc, rout, rerr) = both(
        clinvk,
        world,
        ["resume", local_id, "-o", "json", "which word?"],
        remote_args=["resume", remote_id[:8], "-o", "json", "which word?"],
    )
    assert lrc == 0, lerr
    assert rrc == 0, rerr
    remote = same_json(lout, rout)
    assert remote["content"] == "Echo: which word?"
    assert remote["clinvk_session_id"] == remote_id
    rc, out, _ = clinvk(["sessions", "show", remote_id, "--json"], world.remote, cwd=world.workdir)
    assert rc == 0
    assert json.loads(out)["turn_count"] == 2


def test_compare_json_is_the_local_json(world: World, clinvk: ClinvkRunner) -> None:
    args = ["compare", "--backends", ",".join(BACKENDS), "--json", "say hi"]
    (lrc, lout, lerr), (rrc, rout, rerr) = both(clinvk, world, args)
    assert lrc == 0, lerr
    assert rrc == 0, rerr
    remote = same_json(lout, rout)
    assert [r["output"] for r in remote["results"]] == ["Echo: say hi"] * 3
    assert [list(r) for r in json.loads(rout)["results"]] == [
        list(r) for r in json.loads(lout)["results"]
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_json_is_the_local_stream(world: World, clinvk: ClinvkRunner, backend: str) -> None:
    args = run_args(backend, "-o", "stream-json", "--new", "stream please")
    (lrc, lout, lerr), (rrc, rout, rerr) = both(clinvk, world, args)
    assert lrc == 0, lerr
    assert rrc == 0, rerr
    local = [strip(json.loads(line)) for line in lout.splitlines()]
    remote = [strip(json.loads(line)) for line in rout.splitlines()]
    assert remote == local
    assert remote[-1]["type"] == "done"
    texts = [e["text"] for e in remote if e["type"] == "text_delta"]
    assert "".join(texts) == "Echo: stream please"


def test_text_is_the_local_text(world: World, clinvk: ClinvkRunner) -> None:
    args = run_args("claude", "-o", "text", "--ephemeral", "plain please")
    (lrc, lout, lerr), (rrc, rout, rerr) = both(clinvk, world, args)
    assert (lrc, lout, lerr) == (0, "Echo: plain please\n", "")
    assert (rrc, rout, rerr) == (lrc, lout, lerr)


def test_a_failing_backend_exits_the_same(
    cli_env: CliEnvFactory, serve: Serve, remote_env: Any, tmp_path: Path, clinvk: ClinvkRunner
) -> None:
    world = start_world(cli_env("claude", "500"), serve, remote_env, tmp_path, "failing")
    args = run_args("claude", "-o", "json", "--ephemeral", "say hi")
    (lrc, lout, lerr), (rrc, rout, rerr) = both(clinvk, world, args)
    assert lrc != 0
    assert rrc == lrc
    assert rerr == lerr
    remote = same_json(lout, rout)
    assert remote["error"]
    text = run_args("claude", "-o", "text", "--ephemeral", "say hi")
    (lrc, lout, lerr), (rrc, rout, rerr) = both(clinvk, world, text)
    assert (rrc, rout, rerr) == (lrc, lout, lerr)
    assert lerr.startswith("Error [claude]: ")


def test_mistakes_exit_as_they_do_locally(world: World, clinvk: ClinvkRunner) -> None:
    for args in (["resume", "0123abcd", "hi"], ["-b", "nope", "hi"]):
        (lrc, _, lerr), (rrc, _, rerr) = both(clinvk, world, args)
        assert rrc == lrc != 0
        assert rerr == lerr  # the same one line
        assert len(rerr.splitlines()) == 1
    bad_key = {**world.remote, "CLINVK_API_KEY": "sk-not-the-key"}
    rc, out, err = clinvk(["say hi"], bad_key, cwd=world.workdir)
    assert (rc, out) == (1, "")
    assert err.startswith(f"Error: the server at {world.server.url} refused the request")
    assert len(err.splitlines()) == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}"
    rc, out, err = clinvk(["say hi"], {**world.remote, "CLINVK_SERVER": down}, cwd=world.workdir)
    assert (rc, out) == (1, "")
    assert err.startswith(f"Error: cannot connect to the clinvoker server at {down}")
    assert len(err.splitlines()) == 1
