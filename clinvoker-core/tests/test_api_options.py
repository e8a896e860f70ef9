"""How options merge (explicit > config > backend defaults), tracing, and use from plain scripts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from clinvoker import api
from clinvoker.errors import BackendUnavailable, ValidationError
from clinvoker.request import RunRequest

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FakeWorld


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWorld:
    return FakeWorld(tmp_path, monkeypatch)


def request(world: FakeWorld, config: str = "", **kw: Any) -> RunRequest:
    world.load_config(config)
    return api.prepare("hi", **world.kwargs(**kw)).request


def test_model_explicit_then_config_then_backend_default_with_aliases(world: FakeWorld) -> None:
    assert request(world).model == "fake-default"
    assert request(world, "backends:\n  fake:\n    model: best\n").model == "fake-max"
    assert (
        request(world, "backends:\n  fake:\n    model: best\n", model="fast").model == "fake-mini"
    )
    assert request(world, model="some-new-model").model == "some-new-model"


@pytest.mark.parametrize(
    ("unified", "per_backend", "explicit", "expected"),
    [
        ("default", "", None, "default"),
        ("default", "none", None, "none"),  # backend setting fills a default
        ("auto", "none", None, "auto"),  # a non-default unified mode wins (Go rule)
        ("default", "none", "always", "always"),  # explicit wins
        ("default", "none", "default", "none"),  # explicit "default" is still a default
    ],
)
def test_approval_mode_precedence(
    world: FakeWorld, unified: str, per_backend: str, explicit: str | None, expected: str
) -> None:
    config = (
        f"unified_flags:\n  approval_mode: {unified}\n"
        f"backends:\n  fake:\n    approval_mode: '{per_backend}'\n"
    )
    assert request(world, config, approval_mode=explicit).approval_mode == expected


def test_sandbox_mode_follows_the_same_rule(world: FakeWorld) -> None:
    config = "backends:\n  fake:\n    sandbox_mode: read-only\n"
    assert request(world, config).sandbox_mode == "read-only"
    assert request(world, config, sandbox_mode="full").sandbox_mode == "full"
    unified = "unified_flags:\n  sandbox_mode: workspace\n" + config
    assert request(world, unified).sandbox_mode == "workspace"


def test_backend_settings_fill_what_was_not_given(world: FakeWorld) -> None:
    config = textwrap.dedent(
        """\
        unified_flags:
          max_turns: 7
          verbose: true
          command_timeout_secs: 90
        backends:
          fake:
            system_prompt: from config
            allowed_tools: [Read, Grep]
            extra_flags: [--from-config]
            env: {FAKE_A: config, FAKE_B: config}
        """
    )
    req = request(world, config)
    assert req.system_prompt == "from config"
    assert req.allowed_tools == ("Read", "Grep")
    assert req.max_turns == 7
    assert req.verbose is True
    assert req.timeout_s == 90
    assert req.extra_flags == ("--from-config",)
    explicit = request(
        world,
        config,
        system_prompt="mine",
        allowed_tools=[],
        max_turns=2,
        verbose=False,
        timeout=5,
        extra_flags=["--mine"],
        env={"FAKE_B": "mine"},
    )
    assert explicit.system_prompt == "mine"
    assert explicit.allowed_tools == ()
    assert explicit.max_turns == 2
    assert explicit.verbose is False
    assert explicit.timeout_s == 5
    assert explicit.extra_flags == ("--mine", "--from-config")  # request extras, then config's
    assert explicit.env == {"FAKE_A": "config", "FAKE_B": "mine"}


def test_zero_in_config_means_no_limit(world: FakeWorld) -> None:
    req = request(world)
    assert req.max_turns is None
    assert req.timeout_s is None


def test_backend_comes_from_config_default_backend(world: FakeWorld) -> None:
    kwargs = world.kwargs()
    assert api.prepare("hi", **kwargs).backend.name == "fake"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("approval_mode", "sometimes", "approval mode 'sometimes' is not one of"),
        ("sandbox_mode", "open", "sandbox mode 'open' is not one of"),
        ("output", "xml", "output 'xml' is not one of"),
        ("timeout", 0, "timeout must be a positive number"),
    ],
)
def test_invalid_options_are_rejected_with_what_is_allowed(
    world: FakeWorld, option: str, value: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        api.start("hi", **world.kwargs(**{option: value}))
    assert world.store.count() == 0


def test_a_backend_disabled_in_config_is_unavailable(world: FakeWorld) -> None:
    world.load_config("backends:\n  fake:\n    enabled: false\n")
    with pytest.raises(BackendUnavailable, match="disabled in the config"):
        api.start("hi", **world.kwargs())


def test_config_path_for_the_cli_is_used(world: FakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(world.root / "empty"))
    world.load_config(f"backends:\n  fake:\n    path: {world.exe}\n")
    handle = api.start("hi", **world.kwargs())
    assert handle.command.argv[0] == str(world.exe)
    assert asyncio.run(handle.result()).content == "echo: hi"


def trace_env_of_child(world: FakeWorld, **kw: Any) -> str | None:
    handle = api.start("hi", **world.kwargs(extra_flags=["--print-env", "TRACEPARENT"], **kw))
    raw: list[bytes] = []
    handle.on_native_line = raw.append
    asyncio.run(handle.result())
    values = [json.loads(r) for r in raw if b'"type": "env"' in r]
    value: str | None = values[0]["value"]
    return value


def test_traceparent_reaches_the_cli_when_a_trace_is_active(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import context, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    monkeypatch.delenv("TRACEPARENT", raising=False)
    assert trace_env_of_child(world) is None
    incoming = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(incoming)))
    try:
        value = trace_env_of_child(world)
    finally:
        context.detach(token)
    assert value is not None
    assert value.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert value.endswith("-01")


def test_an_explicit_traceparent_from_the_caller_wins(world: FakeWorld) -> None:
    given = "00-11111111111111111111111111111111-2222222222222222-01"
    assert trace_env_of_child(world, env={"TRACEPARENT": given}) == given


def test_run_sync_works_from_a_plain_script(world: FakeWorld) -> None:
    support = Path(__file__).with_name("support")
    script = textwrap.dedent(
        f"""\
        import sys
        sys.path.insert(0, {str(support)!r})
        import clinvoker
        from core_fakes import fake_host

        result = clinvoker.run_sync("from a script", host=fake_host(), workdir={str(world.workdir)!r})
        print(result.content)
        print(result.clinvk_session_id)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    content, session_id = proc.stdout.splitlines()
    assert content == "echo: from a script"
    assert world.store.get(session_id).status == "completed"
