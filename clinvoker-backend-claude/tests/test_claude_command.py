"""The ``claude`` command line built for each unified option.

The argv forms here were checked against the real Claude Code 2.1.197 (see the README): ``--flag=value``
keeps values that start with ``-`` attached to their flag, and ``--`` ends the options so a
variadic flag such as ``--add-dir`` can never swallow the prompt.
"""

from __future__ import annotations

from typing import Any

import pytest
from clinvoker.request import RunRequest
from clinvoker.result import Result
from clinvoker_claude.backend import (
    PROMPT_ARGV_LIMIT,
    SYSTEM_PROMPT_ARGV_LIMIT,
    ClaudeBackend,
    permission_mode,
)

STREAM_FLAGS = ("--output-format=stream-json", "--verbose", "--include-partial-messages")


def build(prompt: str = "say hi", **fields: Any) -> Any:
    return ClaudeBackend().build_command(RunRequest(prompt=prompt, backend="claude", **fields))


def test_a_plain_run_streams_json_with_token_deltas() -> None:
    cmd = build()
    assert cmd.argv == ("claude", "-p", *STREAM_FLAGS, "--", "say hi")
    assert cmd.stdin is None  # the runner gives /dev/null: claude waits 3 s on an open stdin
    assert cmd.cwd is None
    assert cmd.env == {}
    assert cmd.files == {}


@pytest.mark.parametrize(
    ("output", "flags"),
    [
        ("stream", STREAM_FLAGS),
        ("json", ("--output-format=json",)),
        ("text", ("--output-format=text",)),
    ],
)
def test_output_modes(output: str, flags: tuple[str, ...]) -> None:
    assert build(output=output).argv == ("claude", "-p", *flags, "--", "say hi")


def test_verbose_is_passed_in_text_mode_only() -> None:
    assert "--verbose" in build(output="text", verbose=True).argv
    # with json output --verbose would print a list of every message instead of the result
    assert "--verbose" not in build(output="json", verbose=True).argv


@pytest.mark.parametrize(
    ("model", "flag"),
    [
        ("fast", "--model=haiku"),
        ("quick", "--model=haiku"),
        ("balanced", "--model=sonnet"),
        ("default", "--model=sonnet"),
        ("best", "--model=opus"),
        ("powerful", "--model=opus"),
        ("claude-sonnet-4-5", "--model=claude-sonnet-4-5"),
    ],
)
def test_models_and_aliases(model: str, flag: str) -> None:
    assert build(model=model).argv[2] == flag


def test_no_model_lets_claude_choose() -> None:
    assert not any(a.startswith("--model") for a in build().argv)


def test_new_run_with_a_preset_session_id() -> None:
    sid = "11111111-2222-4333-8444-555555555555"
    assert f"--session-id={sid}" in build(new_session_id=sid).argv


def test_resume_by_session_id() -> None:
    sid = "8813f7c3-67f9-48fd-a2a1-e3813f21bd5a"
    argv = build(resume_session_id=sid, new_session_id="ignored", continue_last=True).argv
    assert f"--resume={sid}" in argv
    # claude refuses --session-id together with --resume (unless forking); resume wins
    assert not any(a.startswith("--session-id") for a in argv)
    assert "--continue" not in argv


def test_continue_the_latest_conversation() -> None:
    argv = build(continue_last=True).argv
    assert "--continue" in argv
    assert not any(a.startswith(("--resume", "--session-id")) for a in argv)


def test_ephemeral_runs_are_not_persisted_and_need_no_cleanup() -> None:
    request = RunRequest(prompt="hi", backend="claude", ephemeral=True)
    backend = ClaudeBackend()
    assert "--no-session-persistence" in backend.build_command(request).argv
    assert backend.cleanup_commands(request, Result(backend="claude", session_id="x")) == []


def test_system_prompt_replaces_or_appends() -> None:
    assert "--system-prompt=You are terse." in build(system_prompt="You are terse.").argv
    appended = build(system_prompt="Be terse.", system_prompt_mode="append").argv
    assert "--append-system-prompt=Be terse." in appended
    assert not any(a.startswith("--system-prompt") for a in appended)


def test_a_system_prompt_starting_with_a_dash_stays_attached_to_its_flag() -> None:
    assert "--system-prompt=-v means verbose" in build(system_prompt="-v means verbose").argv


def test_a_huge_system_prompt_goes_through_a_file() -> None:
    text = "rule\n" * (SYSTEM_PROMPT_ARGV_LIMIT // 4)
    cmd = build(system_prompt=text, system_prompt_mode="append")
    assert cmd.files == {"system-prompt.txt": text.encode()}
    i = cmd.argv.index("--append-system-prompt-file")
    assert cmd.argv[i + 1] == "{file:system-prompt.txt}"
    assert all(len(a) < SYSTEM_PROMPT_ARGV_LIMIT for a in cmd.argv)


@pytest.mark.parametrize(
    ("approval", "sandbox", "mode"),
    [
        ("default", "default", None),
        ("auto", "default", "acceptEdits"),
        ("none", "default", "bypassPermissions"),
        ("always", "default", "default"),
        ("default", "read-only", "plan"),
        ("default", "workspace", None),
        ("default", "full", None),
        # an explicit approval mode wins over the sandbox mode
        ("auto", "read-only", "acceptEdits"),
        ("none", "read-only", "bypassPermissions"),
        ("always", "read-only", "default"),
    ],
)
def test_approval_and_sandbox_modes(approval: str, sandbox: str, mode: str | None) -> None:
    assert permission_mode(approval, sandbox) == mode
    argv = build(approval_mode=approval, sandbox_mode=sandbox).argv
    flags = [a for a in argv if a.startswith("--permission-mode")]
    assert flags == ([f"--permission-mode={mode}"] if mode else [])


def test_bypass_as_root_is_not_silently_enabled() -> None:
    # IS_SANDBOX=1 would make claude accept bypassPermissions as root: that is the user's call
    assert "IS_SANDBOX" not in build(approval_mode="none").env
    assert build(approval_mode="none", env={"IS_SANDBOX": "1"}).env == {"IS_SANDBOX": "1"}


def test_tools_turns_and_directories() -> None:
    argv = build(
        allowed_tools=("Read", "Bash(git status)"),
        disallowed_tools=("WebFetch", "Write"),
        max_turns=3,
        add_dirs=("/srv/data", "/srv/more data"),
    ).argv
    assert "--allowedTools=Read,Bash(git status)" in argv
    assert "--disallowedTools=WebFetch,Write" in argv
    assert "--max-turns=3" in argv
    assert "--add-dir=/srv/data" in argv
    assert "--add-dir=/srv/more data" in argv
    assert argv[-2:] == ("--", "say hi")


@pytest.mark.parametrize("turns", [None, 0])
def test_no_turn_limit(turns: int | None) -> None:
    assert not any(a.startswith("--max-turns") for a in build(max_turns=turns).argv)


def test_workdir_is_the_process_directory() -> None:
    assert build(workdir="/srv/project").cwd == "/srv/project"


def test_extra_flags_come_just_before_the_prompt() -> None:
    argv = build(extra_flags=("--fallback-model", "claude-haiku-4-5")).argv
    assert argv[-4:] == ("--fallback-model", "claude-haiku-4-5", "--", "say hi")


@pytest.mark.parametrize(
    "prompt",
    [
        "-rf is not a flag",
        "--help",
        "line one\nline two",
        "windows\r\nline",
        "x" * (PROMPT_ARGV_LIMIT + 1),
        "é" * (PROMPT_ARGV_LIMIT // 2 + 1),  # the limit counts UTF-8 bytes
        "nul\x00byte",
    ],
)
def test_prompts_that_go_through_stdin(prompt: str) -> None:
    cmd = build(prompt, extra_flags=("--add-dir", "/srv/data"))
    assert cmd.stdin == prompt.encode()
    assert "--" not in cmd.argv
    assert prompt not in cmd.argv


@pytest.mark.parametrize("prompt", ["say hi", "x" * PROMPT_ARGV_LIMIT, "what does -v do?", ""])
def test_prompts_that_go_after_double_dash(prompt: str) -> None:
    cmd = build(prompt)
    assert cmd.stdin is None
    assert cmd.argv[-2:] == ("--", prompt)


def test_backend_description() -> None:
    backend = ClaudeBackend()
    assert backend.name == "claude"
    assert backend.executable == "claude"
    assert "@anthropic-ai/claude-code" in backend.install_hint
    assert backend.is_tested_version("2.1.197")
    assert backend.is_tested_version("2.1.330")
    assert not backend.is_tested_version("2.0.5")
    assert backend.parse_version("2.1.197 (Claude Code)") == "2.1.197"
    assert set(backend.model_aliases.values()) <= set(backend.models)
    assert {"resume", "continue", "session_id", "ephemeral", "stream"} <= backend.capabilities
