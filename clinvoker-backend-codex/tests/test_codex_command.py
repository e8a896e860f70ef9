"""How a request becomes a ``codex exec`` command line.

Every argv form asserted here was run against the real codex 0.169.0 (see the README).
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from clinvoker.events import Error
from clinvoker.request import Command, ParseState, RunRequest
from clinvoker.result import Result
from clinvoker_codex.backend import STDIN_THRESHOLD, CodexBackend, permission_flags, toml_string
from hypothesis import given
from hypothesis import strategies as st

SAFE = ("codex", "exec", "--skip-git-repo-check", "--disable", "unbounded_connection_retries")


def build(prompt: str = "say hi", **kw: Any) -> Command:
    return CodexBackend().build_command(RunRequest(prompt=prompt, backend="codex", **kw))


def test_a_new_run_streams_json_events_with_the_prompt_after_a_double_dash() -> None:
    cmd = build()
    assert cmd.argv == (*SAFE, "--json", "--", "say hi")
    assert cmd.stdin is None, "stdin must be closed or codex waits for it forever"
    assert cmd.cwd is None
    assert cmd.files == {}


@pytest.mark.parametrize("output", ["stream", "json"])
def test_stream_and_json_output_both_use_codex_jsonl(output: str) -> None:
    assert "--json" in build(output=output).argv


def test_text_output_prints_only_the_final_message() -> None:
    assert build(output="text").argv == (*SAFE, "--", "say hi")


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("-v is a flag?", "a leading dash"),
        ("line one\nline two", "several lines"),
        ("x" * (STDIN_THRESHOLD + 1), "a long prompt"),
    ],
)
def test_awkward_prompts_go_through_stdin(prompt: str, why: str) -> None:
    cmd = build(prompt)
    assert cmd.argv[-1] == "-", why
    assert prompt not in cmd.argv
    assert cmd.stdin == prompt.encode()


def test_a_prompt_at_the_stdin_threshold_still_goes_in_argv() -> None:
    prompt = "é" * (STDIN_THRESHOLD // 2)
    cmd = build(prompt)
    assert cmd.argv[-2:] == ("--", prompt)
    assert cmd.stdin is None


def test_a_prompt_that_cannot_be_an_argument_goes_through_stdin() -> None:
    cmd = build("nul \x00 inside")
    assert cmd.argv[-1] == "-"
    assert cmd.stdin == b"nul \x00 inside"


def test_resume_by_thread_id() -> None:
    cmd = build("next", resume_session_id="01a209c7-a30f-7950-8df8-53e3c10e4a56")
    assert cmd.argv == (
        *SAFE,
        "--json",
        "resume",
        "--",
        "01a209c7-a30f-7950-8df8-53e3c10e4a56",
        "next",
    )


def test_resume_with_a_prompt_on_stdin() -> None:
    cmd = build("-next\nturn", resume_session_id="T1")
    assert cmd.argv[-4:] == ("resume", "--", "T1", "-")
    assert cmd.stdin == b"-next\nturn"


def test_continue_last() -> None:
    assert build("go on", continue_last=True).argv[-4:] == ("resume", "--last", "--", "go on")
    cmd = build("-go on", continue_last=True)
    assert cmd.argv[-4:] == ("resume", "--last", "--", "-")
    assert cmd.stdin == b"-go on"


def test_resume_by_id_wins_over_continue_last() -> None:
    argv = build(resume_session_id="T1", continue_last=True).argv
    assert "--last" not in argv
    assert argv[-3:] == ("--", "T1", "say hi")


def test_exec_flags_come_before_the_resume_subcommand() -> None:
    argv = build(
        resume_session_id="T1",
        model="gpt-5.5",
        workdir="/w",
        sandbox_mode="workspace",
        extra_flags=("-c", "model_reasoning_effort=high"),
    ).argv
    resume = argv.index("resume")
    for flag in ("-m", "-C", "-s", "model_reasoning_effort=high"):
        assert argv.index(flag) < resume


def test_model_aliases_resolve_to_codex_models() -> None:
    backend = CodexBackend()
    for alias in ("fast", "quick", "balanced", "default", "best", "powerful"):
        model = backend.model_aliases[alias]
        assert model in backend.models
        argv = build(model=alias).argv
        assert argv[argv.index("-m") + 1] == model
    assert build(model="gpt-5.5").argv[5:8] == ("--json", "-m", "gpt-5.5")
    assert "-m" not in build(model=None).argv


def test_workdir_sets_both_the_process_cwd_and_codex_root() -> None:
    cmd = build(workdir="/srv/project", add_dirs=("/data", "/cache"))
    assert cmd.cwd == "/srv/project"
    argv = cmd.argv
    assert argv[argv.index("-C") + 1] == "/srv/project"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--add-dir"] == ["/data", "/cache"]


def test_replacement_system_prompt_is_passed_as_a_file() -> None:
    cmd = build(system_prompt="You are terse.\nAlways.", system_prompt_mode="replace")
    assert cmd.files == {"instructions.md": b"You are terse.\nAlways."}
    assert 'model_instructions_file="{file:instructions.md}"' in cmd.argv
    assert "You are terse.\nAlways." not in " ".join(cmd.argv)


def test_appended_system_prompt_becomes_developer_instructions() -> None:
    cmd = build(system_prompt='Say "hi" \\ bye', system_prompt_mode="append")
    i = cmd.argv.index("-c")
    key, _, value = cmd.argv[i + 1].partition("=")
    assert key == "developer_instructions"
    assert tomllib.loads(f"v = {value}")["v"] == 'Say "hi" \\ bye'
    assert cmd.files == {}


def test_an_ephemeral_resume_forks_the_thread() -> None:
    """`resume --ephemeral` would still append the turn to the thread; a fork leaves it as it was."""
    argv = build("next", resume_session_id="T1", ephemeral=True).argv
    assert argv[-4:] == ("fork", "--", "T1", "next")
    assert "resume" not in argv
    assert argv.index("--ephemeral") < argv.index("fork")


def test_ephemeral_runs_leave_no_rollout() -> None:
    assert "--ephemeral" in build(ephemeral=True).argv
    assert "--ephemeral" not in build().argv
    backend = CodexBackend()
    request = RunRequest(prompt="p", backend="codex", ephemeral=True)
    assert backend.cleanup_commands(request, Result(backend="codex")) == []


def test_extra_flags_come_right_before_the_prompt() -> None:
    argv = build(extra_flags=("--color", "never")).argv
    assert argv[-4:] == ("--color", "never", "--", "say hi")


def test_env_is_passed_through() -> None:
    assert build(env={"CODEX_HOME": "/h"}).env == {"CODEX_HOME": "/h"}


@pytest.mark.parametrize(
    ("approval", "sandbox", "flags"),
    [
        ("default", "default", []),
        ("default", "read-only", ["-s", "read-only"]),
        ("default", "workspace", ["-s", "workspace-write"]),
        ("default", "full", ["-s", "danger-full-access"]),
        ("auto", "default", ["-s", "workspace-write"]),
        ("auto", "read-only", ["-s", "read-only"]),
        ("auto", "full", ["-s", "danger-full-access"]),
        ("none", "default", ["--dangerously-bypass-approvals-and-sandbox"]),
        ("none", "full", ["--dangerously-bypass-approvals-and-sandbox"]),
        ("none", "read-only", ["-s", "read-only"]),
        ("none", "workspace", ["-s", "workspace-write"]),
        ("always", "default", ["-s", "read-only"]),
        ("always", "read-only", ["-s", "read-only"]),
        ("always", "workspace", ["-s", "workspace-write"]),
    ],
)
def test_approval_and_sandbox_map_to_native_flags(
    approval: str, sandbox: str, flags: list[str]
) -> None:
    assert permission_flags(approval, sandbox)[0] == flags
    argv = build(approval_mode=approval, sandbox_mode=sandbox).argv
    assert list(argv[6 : 6 + len(flags)]) == flags


def first_events(**kw: Any) -> list[Any]:
    backend = CodexBackend()
    state = ParseState(RunRequest(prompt="p", backend="codex", **kw))
    return backend.parse_stream(b'{"type":"thread.started","thread_id":"T"}', state)


@pytest.mark.parametrize(
    ("options", "mentions"),
    [
        ({"max_turns": 3}, "max_turns=3"),
        ({"allowed_tools": ("Bash",)}, "allowed_tools"),
        ({"disallowed_tools": ("Bash",)}, "disallowed_tools"),
        ({"new_session_id": "0190e0c0-0000-7000-8000-000000000000"}, "new_session_id"),
        ({"approval_mode": "always", "sandbox_mode": "full"}, "cannot ask for approval"),
        (
            {"system_prompt": "x", "system_prompt_mode": "append", "resume_session_id": "T"},
            "only when a thread starts",
        ),
        ({"ephemeral": True, "continue_last": True}, "records the turn in the continued thread"),
    ],
)
def test_options_codex_cannot_honour_are_reported_not_fatal(
    options: dict[str, Any], mentions: str
) -> None:
    assert build(**options).argv[-1] == "say hi"
    warnings = [ev for ev in first_events(**options) if isinstance(ev, Error)]
    assert len(warnings) == 1
    assert not warnings[0].fatal
    assert warnings[0].code == "unsupported_option"
    assert mentions in warnings[0].message


def test_warnings_are_emitted_once_per_run() -> None:
    backend = CodexBackend()
    state = ParseState(RunRequest(prompt="p", backend="codex", max_turns=2))
    first = backend.parse_stream(b'{"type":"thread.started","thread_id":"T"}', state)
    second = backend.parse_stream(b'{"type":"turn.started"}', state)
    assert [type(ev).__name__ for ev in first] == ["Error", "SessionStarted"]
    assert second == []


def test_supported_options_produce_no_warnings() -> None:
    events = first_events(model="fast", sandbox_mode="workspace", approval_mode="auto")
    assert not [ev for ev in events if isinstance(ev, Error)]


@given(st.text())
def test_toml_string_round_trips_through_a_toml_parser(text: str) -> None:
    parsed = tomllib.loads(f"v = {toml_string(text)}")["v"]
    expected = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    assert parsed == expected


@given(st.text())
def test_any_prompt_survives_command_building(prompt: str) -> None:
    cmd = build(prompt)
    if cmd.stdin is None:
        assert cmd.argv[-2:] == ("--", prompt)
        assert not prompt.startswith("-")
        assert "\n" not in prompt
    else:
        assert cmd.argv[-1] == "-"
        assert cmd.stdin == prompt.encode("utf-8", "replace")
