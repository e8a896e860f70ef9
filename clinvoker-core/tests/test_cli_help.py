"""``clinvk`` help, usage errors, version, completion: what a user sees before any backend runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from clinvoker.cli.app import cli
from clinvoker.cli.exitcodes import EXIT_CODES
from clinvoker.cli.options import APPROVAL_MODES, SANDBOX_MODES
from clinvoker.request import APPROVAL_MODES as LIB_APPROVAL_MODES
from clinvoker.request import SANDBOX_MODES as LIB_SANDBOX_MODES

COMMANDS = [
    [],
    ["resume"],
    ["sessions"],
    ["sessions", "list"],
    ["sessions", "show"],
    ["sessions", "delete"],
    ["sessions", "clean"],
    ["config"],
    ["config", "show"],
    ["config", "get"],
    ["config", "set"],
    ["config", "path"],
    ["backends"],
    ["version"],
    ["completion"],
    ["parallel"],
    ["chain"],
    ["compare"],
    ["help"],
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("CLINVK_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("CLINVK_HOME", str(tmp_path / "home"))


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "clinvk")
def test_every_command_has_a_summary_and_an_example(words: list[str]) -> None:
    result = invoke(*words, "--help")
    assert result.exit_code == 0, result.output
    usage, _, rest = result.stdout.partition("\n\n")
    assert usage.startswith("Usage: clinvk")
    summary = rest.strip().splitlines()[0]
    assert len(summary) > 10
    assert "Example" in result.stdout or "clinvk " in rest.split("Options:")[0]


def test_root_help_explains_auto_resume_and_exit_codes() -> None:
    out = invoke("--help").stdout
    assert "SAME backend" in out
    assert "SAME working directory" in out
    assert "--new" in out
    assert "124 timeout" in out
    assert "130 interrupted" in out
    for flag in ("--config", "--backend", "--model", "--workdir", "--output-format"):
        assert flag in out
    for flag in ("--dry-run", "--ephemeral", "--continue", "--approval-mode", "--sandbox-mode"):
        assert flag in out
    for flag in ("--allowed-tools", "--disallowed-tools", "--max-turns", "--system-prompt"):
        assert flag in out
    for flag in ("--append-system-prompt", "--timeout", "--add-dir", "--native", "--debug"):
        assert flag in out


def test_subcommand_help_lists_only_its_own_flags_but_accepts_global_ones() -> None:
    out = invoke("sessions", "list", "--help").stdout
    assert "--limit" in out
    assert "--ephemeral" not in out
    assert "global flags" in out.lower()


def test_help_exit_codes_prints_the_documented_table() -> None:
    result = invoke("help", "exit-codes")
    assert result.exit_code == 0
    for code, meaning in EXIT_CODES:
        assert code in result.stdout
        assert meaning in result.stdout


def test_help_command_shows_a_subcommand_help() -> None:
    result = invoke("help", "sessions", "list")
    assert result.exit_code == 0
    assert "Usage: clinvk sessions list" in result.stdout


def test_help_for_an_unknown_topic_is_a_usage_error() -> None:
    result = invoke("help", "nonsense")
    assert result.exit_code == 2
    assert "exit-codes" in result.stderr


def test_unknown_flag_exits_2_with_usage() -> None:
    result = invoke("--no-such-flag", "hi")
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert "Usage:" in result.stderr


def test_two_unquoted_prompt_words_say_to_quote_the_prompt() -> None:
    result = invoke("hello", "world")
    assert result.exit_code == 2
    assert "quote the prompt" in result.stderr
    assert 'clinvk "hello world"' in result.stderr


def test_bad_output_format_exits_2_listing_the_choices() -> None:
    result = invoke("-o", "yaml", "hi")
    assert result.exit_code == 2
    assert "text" in result.stderr
    assert "stream-json" in result.stderr


def test_output_format_is_case_insensitive(tmp_path: Path) -> None:
    result = invoke("-o", "JSON", "--dry-run", "-b", "nope", "hi")
    assert "invalid value for '-o'" not in result.stderr.lower()


def test_empty_stdin_and_no_prompt_is_a_usage_error() -> None:
    result = invoke(stdin="")
    assert result.exit_code == 2, result.output
    assert "no prompt" in result.stderr


def test_system_prompt_and_append_system_prompt_conflict() -> None:
    result = invoke("--system-prompt", "a", "--append-system-prompt", "b", "hi")
    assert result.exit_code == 2
    assert "--append-system-prompt" in result.stderr


def test_new_and_continue_conflict() -> None:
    result = invoke("--new", "-c", "hi")
    assert result.exit_code == 2


def test_workdir_must_exist(tmp_path: Path) -> None:
    result = invoke("-w", str(tmp_path / "missing"), "hi")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_version_prints_three_lines_like_the_go_tool() -> None:
    result = invoke("version")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("clinvk ")
    assert lines[0].split()[1][0].isdigit()
    assert lines[1].startswith("  commit: ")
    assert lines[2].startswith("  built:  ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_the_shell(shell: str) -> None:
    result = invoke("completion", shell)
    assert result.exit_code == 0
    assert "_CLINVK_COMPLETE" in result.stdout
    assert f"{shell}_complete" in result.stdout


def test_completion_for_an_unknown_shell_is_a_usage_error() -> None:
    assert invoke("completion", "tcsh").exit_code == 2


def test_completion_suggests_subcommands() -> None:
    env = {"_CLINVK_COMPLETE": "bash_complete", "COMP_WORDS": "clinvk sess", "COMP_CWORD": "1"}
    result = CliRunner().invoke(cli, [], env=env, prog_name="clinvk")
    assert "sessions" in result.stdout


def test_flag_choices_match_the_library() -> None:
    assert APPROVAL_MODES == LIB_APPROVAL_MODES
    assert SANDBOX_MODES == LIB_SANDBOX_MODES


def test_global_flags_work_after_the_subcommand(tmp_path: Path) -> None:
    config = tmp_path / "other.yaml"
    config.write_text("default_backend: codex\n")
    before = invoke("config", "get", "default_backend", "--config", str(config))
    after = invoke("--config", str(config), "config", "get", "default_backend")
    assert before.stdout == after.stdout == "codex\n"


def test_plugin_commands_appear_and_get_the_global_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from clinvoker.hookspecs import hookimpl
    from clinvoker.plugins import PluginHost, reset_host

    @click.command("hello", short_help="Say hello.")
    @click.pass_context
    def hello(ctx: click.Context) -> int:
        """Say hello (example: clinvk hello)."""
        from clinvoker.cli.state import get_state

        click.echo(f"hello {get_state(ctx).flags.backend}")
        return 0

    class Plugin:
        @hookimpl
        def clinvoker_register_commands(self, cli: click.Group) -> None:
            cli.add_command(hello)
            cli.add_command(click.Command("version", callback=lambda: click.echo("hijacked")))

    reset_host(PluginHost(plugins=[("hello", Plugin())], load_entry_points=False))
    try:
        assert "hello" in invoke("--help").stdout
        assert invoke("hello", "-b", "codex").stdout == "hello codex\n"
        assert "hijacked" not in invoke("version").stdout
    finally:
        reset_host(None)


FORBIDDEN_ON_HELP = (
    "clinvoker.api",
    "clinvoker.runner",
    "clinvoker.orchestrate",
    "clinvoker.sessions",
    "clinvoker.config",
    "clinvoker.backend",
    "clinvoker.events",
    "asyncio",
    "yaml",
    "starlette",
    "hypercorn",
    "opentelemetry.sdk",
)


def _modules_after(args: list[str], env: dict[str, str]) -> set[str]:
    code = textwrap.dedent(
        f"""
        import json, sys
        from clinvoker.cli.main import main
        try:
            main({args!r})
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        sys.stdout.flush()
        print("\\n@@" + json.dumps(sorted(sys.modules)))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.rsplit("@@", 1)[1]))


@pytest.mark.parametrize("args", [["--help"], ["version"], ["sessions", "--help"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    """``clinvk --help`` loads plugins' command hooks but no backend, server or runtime code."""
    loaded = _modules_after(args, dict(os.environ))
    heavy = sorted(
        m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_ON_HELP)
    )
    assert heavy == []
    backends = sorted(m for m in loaded if m.startswith("clinvoker_") and m.endswith(".backend"))
    assert backends == []


def test_version_needs_neither_click_nor_plugins() -> None:
    loaded = _modules_after(["version"], dict(os.environ))
    assert "click" not in loaded
    assert "clinvoker.plugins" not in loaded
