"""Prompts reach the CLI verbatim: no shell, no option injection.

Shell metacharacters, newlines, quotes and leading dashes must arrive exactly as typed — in
argv after ``--`` (or as one ``--prompt=`` item), or on stdin — and must never be read as an
option or run as a command. Checked with the recording fake CLI (what it received: argv and
stdin) through ``clinvk`` and the server, and with the real CLIs against the fake model API
(what the model provider received).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.clis import TEST_MODELS, CliEnvFactory, ClinvkRunner
from support.fake_model_api import FakeModelAPI

from reliability.conftest import server_config
from reliability.support.families import ask
from reliability.support.server import ServerProcess
from reliability.support.world import World

BACKENDS = ("claude", "codex", "gemini")


def hostile_prompts(canary: Path) -> dict[str, str]:
    """Prompts that would do damage if a shell or an option parser saw them."""
    return {
        "subshell": f"$(touch {canary}) `touch {canary}` ; touch {canary} && echo done",
        "pipes": f"a | tee {canary} > {canary} < /dev/null & wait",
        "quotes": "it's \"quoted\" \\ back\\slash 'single' $HOME ${PATH} %s %n",
        "newlines": f"first line\nsecond line\r\n\ttabbed\n$(touch {canary})\n",
        "dash_flag": "--help",
        "dash_option": "--model=evil-model --dangerously-skip-permissions",
        "dash_short": "-p",
        "double_dash": "-- --version",
        "unicode": "héllo → 世界 🚀 \u202e reversed",
        "empty_looking": "   -   ",
    }


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def received_prompt(call: dict[str, Any]) -> str:
    """The prompt as the CLI got it, read the way each real CLI reads it."""
    argv: list[str] = call["argv"]
    if call["dialect"] == "gemini":
        given = [a[len("--prompt=") :] for a in argv if a.startswith("--prompt=")]
        given += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--prompt"]
        assert len(given) == 1, argv
        return (call["stdin"] or "") + given[0]
    if call["stdin"] is not None:
        assert argv[-1] == "-" or "--" not in argv, argv  # not in argv as well
        stdin: str = call["stdin"]
        return stdin
    assert argv[-2] == "--", f"the prompt is not after '--': {argv}"
    return argv[-1]


def options(call: dict[str, Any]) -> list[str]:
    """The CLI's options: argv before the prompt, without ``--prompt``, ids blanked out."""
    argv: list[str] = call["argv"]
    cut = next(
        (i for i, a in enumerate(argv) if a == "--" or (a == "-" and i == len(argv) - 1)), None
    )
    kept = argv[:cut]
    if call["dialect"] == "gemini":
        kept = [a for a in kept if not a.startswith("--prompt=")]
        if "--prompt" in kept:
            i = kept.index("--prompt")
            del kept[i : i + 2]
    return [_UUID.sub("<id>", a) for a in kept]


@pytest.mark.parametrize("backend", BACKENDS)
def test_clinvk_passes_hostile_prompts_verbatim(world: World, backend: str) -> None:
    canary = world.root / "pwned"
    rc, _out, err = world.clinvk("-b", backend, "--new", "-o", "json", "plain baseline")
    assert rc == 0, err
    baseline = options(world.call_with("plain baseline"))
    for name, prompt in hostile_prompts(canary).items():
        token = uuid.uuid4().hex
        full = f"{prompt} {token}" if name != "newlines" else f"{token}\n{prompt}"
        rc, out, err = world.clinvk("-b", backend, "--new", "-o", "json", "--", full)
        assert rc == 0, f"{name}: {err}"
        call = world.call_with(token)
        assert received_prompt(call) == full, name
        assert options(call) == baseline, f"{name} changed the CLI's options"
        assert json.loads(out)["content"] == f"echo: {full}", name
    assert not canary.exists(), "a prompt was run by a shell"


@pytest.mark.parametrize("family", ["native", "chat", "responses", "anthropic"])
def test_the_server_passes_hostile_prompts_verbatim(world: World, family: str) -> None:
    canary = world.root / "pwned"
    with ServerProcess(world, config=server_config()) as server, server.client() as client:
        for backend in BACKENDS:
            token = uuid.uuid4().hex
            assert (
                ask(client, family, f"baseline {token}", stream=False, model=backend).error is None
            )
            baseline = options(world.call_with(token))
            for name, prompt in hostile_prompts(canary).items():
                if not prompt.strip(" -"):
                    continue  # an API refuses a blank prompt; nothing reaches a CLI
                token = uuid.uuid4().hex
                full = f"{token} {prompt}"
                answer = ask(client, family, full, stream=False, model=backend)
                assert answer.error is None, f"{backend} {name}: {answer}"
                call = world.call_with(token)
                assert call["dialect"] == backend
                assert received_prompt(call) == full, f"{backend} {name}"
                assert options(call) == baseline, f"{backend} {name} changed the CLI's options"
    assert not canary.exists(), "a prompt was run by a shell"


@pytest.mark.realcli
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_real_clis_send_hostile_prompts_to_the_model_verbatim(
    backend: str,
    cli_env: CliEnvFactory,
    clinvk: ClinvkRunner,
    fake_api: FakeModelAPI,
    tmp_path: Path,
) -> None:
    env = cli_env(backend)
    canary = tmp_path / "pwned"
    prompts = hostile_prompts(canary)
    for name in ("subshell", "newlines", "dash_option", "quotes"):
        fake_api.reset()
        prompt = prompts[name]
        rc, _out, err = clinvk(
            ["-b", backend, "-m", TEST_MODELS[backend], "--new", "-o", "json", "--", prompt], env
        )
        assert rc == 0, f"{name}: {err}"
        calls = fake_api.model_calls()
        assert calls, f"{name}: the CLI sent nothing to the model"
        sent = calls[-1].texts
        assert any(prompt.strip() in text for text in sent), f"{name}: {sent!r}"
    assert not canary.exists(), "a prompt was run by a shell"
