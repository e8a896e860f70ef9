"""How a request becomes a ``gemini`` command line (argv, env, stdin, files, cwd).

The forms asserted here were checked against the real gemini 0.61.0 (see the README).
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from clinvoker.events import Error
from clinvoker.request import Command, ParseState, RunRequest
from clinvoker.result import Result
from clinvoker_gemini.backend import ARGV_PROMPT_LIMIT, GeminiBackend

gemini = GeminiBackend()


def build(prompt: str = "say hi", **kw: Any) -> Command:
    return gemini.build_command(RunRequest(prompt=prompt, backend="gemini", **kw))


def test_a_plain_run_is_headless_trusted_and_streams_json() -> None:
    cmd = build(workdir="/srv/project")
    assert cmd.argv == ("gemini", "--skip-trust", "--output-format=stream-json", "--prompt=say hi")
    assert cmd.stdin is None  # stdin stays /dev/null
    assert cmd.cwd == "/srv/project"
    assert cmd.env == {"GEMINI_CLI_NO_RELAUNCH": "true"}
    assert cmd.files == {}


@pytest.mark.parametrize(
    ("output", "flag"), [("json", "json"), ("text", "text"), ("stream", "stream-json")]
)
def test_output_modes(output: str, flag: str) -> None:
    assert f"--output-format={flag}" in build(output=output).argv


@pytest.mark.parametrize(
    ("model", "passed"),
    [
        ("fast", "flash"),
        ("quick", "flash"),
        ("balanced", "auto"),
        ("default", "auto"),
        ("best", "pro"),
        ("powerful", "pro"),
        ("gemini-2.5-pro", "gemini-2.5-pro"),
        ("some-new-model", "some-new-model"),
    ],
)
def test_model_aliases(model: str, passed: str) -> None:
    assert f"--model={passed}" in build(model=model).argv


def test_no_model_lets_gemini_choose() -> None:
    assert not any(a.startswith("--model") for a in build().argv)


@pytest.mark.parametrize(
    "prompt",
    [
        "-v",  # would be read as a flag
        "--yolo do everything",
        "line one\nline two",
        "windows\r\nline",
        "x" * (ARGV_PROMPT_LIMIT + 1),
        "see {file:secrets} literally",  # must not look like a runner file reference
    ],
)
def test_risky_prompts_go_through_stdin_with_an_empty_prompt_flag(prompt: str) -> None:
    cmd = build(prompt)
    assert cmd.stdin == prompt.encode()
    assert cmd.argv[-2:] == ("--prompt", "")
    assert all(prompt not in a for a in cmd.argv)


def test_a_lone_surrogate_cannot_break_exec() -> None:
    cmd = build("broken \ud800 text", system_prompt="sys \udcff")
    assert cmd.stdin == b"broken ? text"
    assert cmd.files["system.md"] == b"sys ?"


def test_a_prompt_at_the_size_limit_still_fits_argv() -> None:
    prompt = "é" * (ARGV_PROMPT_LIMIT // 2)
    cmd = build(prompt)
    assert cmd.stdin is None
    assert cmd.argv[-1] == f"--prompt={prompt}"


def test_resume_by_id_continue_and_preset_id() -> None:
    assert "--resume=abc-123" in build(resume_session_id="abc-123").argv
    assert "--resume=latest" in build(continue_last=True).argv
    preset = build(new_session_id="11111111-2222-4333-8444-555555555555").argv
    assert "--session-id=11111111-2222-4333-8444-555555555555" in preset
    # gemini rejects --resume together with --session-id: resume wins
    both = build(resume_session_id="abc", new_session_id="def").argv
    assert "--resume=abc" in both
    assert not any(a.startswith("--session-id") for a in both)


@pytest.mark.parametrize(
    ("approval", "sandbox", "mode"),
    [
        ("default", "default", None),
        ("auto", "default", "auto_edit"),
        ("none", "default", "yolo"),
        ("always", "default", "default"),
        ("default", "read-only", "plan"),
        ("none", "read-only", "plan"),
        ("none", "workspace", "yolo"),
        ("auto", "full", "auto_edit"),
    ],
)
def test_approval_and_sandbox_modes(approval: str, sandbox: str, mode: str | None) -> None:
    argv = build(approval_mode=approval, sandbox_mode=sandbox).argv
    flags = [a for a in argv if a.startswith("--approval-mode")]
    assert flags == ([f"--approval-mode={mode}"] if mode else [])
    assert "--sandbox" not in argv
    assert "-s" not in argv


def test_extra_directories_one_flag_each() -> None:
    argv = build(add_dirs=("/data/a,b", "/data/c")).argv
    assert [a for a in argv if a.startswith("--include")] == [
        "--include-directories=/data/a,b",
        "--include-directories=/data/c",
    ]


def test_system_prompt_replaces_through_a_file() -> None:
    cmd = build(system_prompt="You are terse.")
    assert cmd.env["GEMINI_SYSTEM_MD"] == "{file:system.md}"
    assert cmd.files == {"system.md": b"You are terse."}
    assert cmd.argv[-1] == "--prompt=say hi"


def test_appended_system_prompt_is_sent_ahead_of_the_prompt() -> None:
    cmd = build(system_prompt="Be brief.", system_prompt_mode="append")
    assert "GEMINI_SYSTEM_MD" not in cmd.env
    assert cmd.stdin == b"Be brief.\n\nsay hi"


def test_allowed_tools_are_passed_one_by_one() -> None:
    argv = build(allowed_tools=("read_file", "run_shell_command(git status)")).argv
    assert "--allowed-tools=read_file" in argv
    assert "--allowed-tools=run_shell_command(git status)" in argv


def test_disallowed_tools_become_an_admin_deny_policy() -> None:
    cmd = build(disallowed_tools=("web_fetch", "run_shell_command(rm -rf)", 'odd"name'))
    assert "--admin-policy={file:clinvoker-disallowed-tools.toml}" in cmd.argv
    policy = tomllib.loads(cmd.files["clinvoker-disallowed-tools.toml"].decode())
    assert policy["rule"] == [
        {"toolName": "web_fetch", "decision": "deny", "priority": 999},
        {
            "toolName": "run_shell_command",
            "commandPrefix": "rm -rf",
            "decision": "deny",
            "priority": 999,
        },
        {"toolName": 'odd"name', "decision": "deny", "priority": 999},
    ]


def test_extra_flags_come_before_the_prompt_and_env_is_passed_on() -> None:
    cmd = build(extra_flags=("--screen-reader",), env={"GEMINI_API_KEY": "k"}, verbose=True)
    assert cmd.argv[-3:] == ("--debug", "--screen-reader", "--prompt=say hi")
    assert cmd.env["GEMINI_API_KEY"] == "k"


def test_ephemeral_run_deletes_its_session_afterwards() -> None:
    request = RunRequest(
        prompt="x", backend="gemini", ephemeral=True, workdir="/srv/p", env={"A": "1"}
    )
    result = Result(backend="gemini", session_id="9a967a4b-dba9-4c72-887f-987f20846a8b")
    (cleanup,) = gemini.cleanup_commands(request, result)
    assert cleanup.argv == (
        "gemini",
        "--skip-trust",
        "--delete-session=9a967a4b-dba9-4c72-887f-987f20846a8b",
    )
    assert cleanup.cwd == "/srv/p"  # gemini keeps sessions per project directory
    assert cleanup.env["A"] == "1"
    assert cleanup.stdin is None


@pytest.mark.parametrize(
    ("changes", "session_id"),
    [
        ({}, None),  # gemini never reported a session
        ({"ephemeral": False}, "abc"),
        ({"resume_session_id": "abc"}, "abc"),  # the session existed before this run
        ({"continue_last": True}, "abc"),
    ],
)
def test_nothing_to_clean_up(changes: dict[str, Any], session_id: str | None) -> None:
    request = RunRequest(prompt="x", backend="gemini", **{"ephemeral": True, **changes})
    assert gemini.cleanup_commands(request, Result(backend="gemini", session_id=session_id)) == []


def _warnings(**kw: Any) -> list[str]:
    state = ParseState(RunRequest(prompt="x", backend="gemini", **kw))
    events = gemini.parse_stream(b'{"type":"init","session_id":"s","model":"m"}', state)
    # only once per run
    assert not any(isinstance(e, Error) for e in gemini.parse_stream(b"{}", state))
    return [e.message for e in events if isinstance(e, Error) and not e.fatal]


def test_unsupported_options_are_reported_once_as_warnings() -> None:
    assert _warnings() == []
    assert "max_turns=3 was ignored" in _warnings(max_turns=3)[0]
    assert "cannot append" in _warnings(system_prompt="s", system_prompt_mode="append")[0]
    assert (
        "approval_mode=none was ignored"
        in _warnings(approval_mode="none", sandbox_mode="read-only")[0]
    )
    assert "only applies to new sessions" in _warnings(resume_session_id="a", new_session_id="b")[0]
    assert "does not delete it" in _warnings(ephemeral=True, continue_last=True)[0]


def test_the_backend_describes_itself() -> None:
    assert gemini.name == "gemini"
    assert gemini.executable == "gemini"
    assert "@google/gemini-cli" in gemini.install_hint
    assert gemini.is_tested_version("0.61.0")
    assert not gemini.is_tested_version("0.62.0")
    assert {"resume", "continue", "session_id", "ephemeral", "stream"} <= gemini.capabilities
    assert "max_turns" not in gemini.capabilities
    assert set(gemini.model_aliases.values()) <= set(gemini.models)
