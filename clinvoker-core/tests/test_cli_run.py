"""``clinvk PROMPT`` and ``clinvk resume`` end to end over a fake backend CLI (a real subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from clinvoker.cli.app import cli
from clinvoker.hookspecs import hookimpl
from clinvoker.plugins import PluginHost, reset_host
from support.core_fakes import FakeBackend, install_fake_cli, pid_alive, read_log

TESTS = Path(__file__).parent


class OtherFake(FakeBackend):
    """A second backend driving the same fake CLI, to check per-backend behaviour."""

    name = "fake2"


class FakePlugin:
    @hookimpl
    def clinvoker_register_backends(self, register: Any) -> None:
        register(FakeBackend())
        register(OtherFake())


class World:
    """A temporary clinvk home, ``fake-cli`` on PATH and its call log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.bin = root / "bin"
        self.log = root / "calls.jsonl"
        self.work = root / "work"
        self.work.mkdir()

    def calls(self) -> list[dict[str, Any]]:
        return read_log(self.log)

    def invoke(self, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["-w", str(self.work), *args], input=stdin)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    world = World(tmp_path)
    for var in list(os.environ):
        if var.startswith(("CLINVK_", "FAKE_CLI")):
            monkeypatch.delenv(var)
    install_fake_cli(world.bin)
    monkeypatch.setenv("PATH", f"{world.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CLINVK_HOME", str(world.home))
    monkeypatch.setenv("CLINVK_BACKEND", "fake")
    monkeypatch.setenv("FAKE_CLI_LOG", str(world.log))
    reset_host(PluginHost(plugins=[("fake", FakePlugin())], load_entry_points=False))
    yield world
    reset_host(None)


def sessions(world: World) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["sessions", "list", "--json"])
    data: list[dict[str, Any]] = json.loads(result.stdout)["sessions"]
    return data


# -- output modes ------------------------------------------------------------------------------


def test_text_prints_the_answer(world: World) -> None:
    result = world.invoke("-o", "text", "hello there")
    assert result.exit_code == 0, result.output
    assert result.stdout == "echo: hello there\n"
    assert result.stderr == ""
    [call] = world.calls()
    assert call["argv"][-2:] == ["--", "hello there"]
    assert call["cwd"] == str(world.work)


def test_json_prints_one_object_with_both_session_ids(world: World) -> None:
    result = world.invoke("-o", "json", "hi")
    data = json.loads(result.stdout)
    assert data["content"] == "echo: hi"
    assert data["backend"] == "fake"
    assert data["model"] == "fake-default"
    assert data["session_id"]
    assert data["clinvk_session_id"] == sessions(world)[0]["id"]
    assert data["usage"]["total_tokens"] == 2 + len("echo: hi")
    assert data["cost_usd"] == 0.001


def test_output_format_comes_from_config_when_not_given(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_OUTPUT__FORMAT", "text")
    assert world.invoke("hi").stdout == "echo: hi\n"
    assert world.invoke("-o", "DEFAULT", "--new", "hi").stdout == "echo: hi\n"


def test_stream_json_lines_are_enveloped_and_numbered(world: World) -> None:
    result = world.invoke("-o", "stream-json", "hi")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(e)[:3] for e in events] == [["v", "type", "seq"]] * len(events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert "".join(e["text"] for e in events if e["type"] == "text_delta") == "echo: hi"
    assert events[-1]["type"] == "done"
    assert events[-1]["result"]["content"] == "echo: hi"


def test_native_prints_the_cli_lines(world: World) -> None:
    result = world.invoke("-o", "stream-json", "--native", "hi")
    kinds = [json.loads(line)["type"] for line in result.stdout.splitlines()]
    assert kinds[0] == "init"
    assert kinds[-1] == "result"


def test_native_with_another_output_format_is_a_usage_error(world: World) -> None:
    result = world.invoke("-o", "text", "--native", "hi")
    assert result.exit_code == 2
    assert world.calls() == []


def test_show_tokens_and_timing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINVK_OUTPUT__SHOW_TOKENS", "true")
    monkeypatch.setenv("CLINVK_OUTPUT__SHOW_TIMING", "true")
    lines = world.invoke("-o", "text", "hi").stdout.splitlines()
    assert lines[:3] == ["echo: hi", "", "Tokens: 10 (input: 2, output: 8)"]
    assert lines[3].startswith("Time: ")


def test_a_prompt_named_like_a_command_goes_after_dashes(world: World) -> None:
    result = world.invoke("-o", "text", "--", "version")
    assert result.stdout == "echo: version\n"


def test_prompt_from_stdin(world: World) -> None:
    result = world.invoke("-o", "text", stdin="from a pipe\n")
    assert result.stdout == "echo: from a pipe\n"


def test_verbose_explains_what_runs(world: World) -> None:
    result = world.invoke("-o", "text", "-v", "hi")
    assert "clinvk: running: " in result.stderr
    assert "fake-cli" in result.stderr
    assert f"clinvk: cwd: {world.work}" in result.stderr


# -- dry run -------------------------------------------------------------------------------------


def test_dry_run_prints_the_quoted_command_and_cwd_without_running(world: World) -> None:
    result = world.invoke("-o", "text", "--dry-run", "it's a test")
    assert result.exit_code == 0
    first, second = result.stdout.splitlines()
    assert first.startswith(f"Would execute: {world.bin / 'fake-cli'} ")
    assert first.endswith("-- 'it'\"'\"'s a test'")
    assert second == f"  cwd: {world.work}"
    assert world.calls() == []
    assert sessions(world) == []


def test_dry_run_json_is_pure_json(world: World) -> None:
    data = json.loads(world.invoke("-o", "json", "--dry-run", "x").stdout)
    assert data["dry_run"] is True
    assert data["command"][-1] == "x"
    assert data["cwd"] == str(world.work)


# -- sessions and auto-resume -------------------------------------------------------------------


def test_a_second_prompt_continues_the_session_and_says_so(world: World) -> None:
    first = json.loads(world.invoke("-o", "json", "one").stdout)
    second = world.invoke("-o", "json", "two")
    data = json.loads(second.stdout)
    assert data["clinvk_session_id"] == first["clinvk_session_id"]
    assert second.stderr == (
        f"continuing session {first['clinvk_session_id'][:8]} (fake) from just now; "
        "use --new to start fresh\n"
    )
    assert "--resume" in world.calls()[-1]["argv"]
    assert sessions(world)[0]["turn_count"] == 2


def test_new_starts_fresh(world: World) -> None:
    world.invoke("-o", "json", "one")
    result = world.invoke("-o", "json", "--new", "two")
    assert result.stderr == ""
    assert len(sessions(world)) == 2
    assert "--resume" not in world.calls()[-1]["argv"]


def test_auto_resume_never_crosses_directories(world: World, tmp_path: Path) -> None:
    world.invoke("-o", "json", "one")
    other = tmp_path / "other"
    other.mkdir()
    result = CliRunner().invoke(cli, ["-w", str(other), "-o", "json", "two"])
    assert "continuing" not in result.stderr
    assert len(sessions(world)) == 2


def test_auto_resume_never_crosses_backends(world: World) -> None:
    world.invoke("-o", "json", "one")
    result = world.invoke("-b", "fake2", "-o", "json", "two")
    assert "continuing" not in result.stderr
    assert {s["backend"] for s in sessions(world)} == {"fake", "fake2"}


def test_auto_resume_can_be_turned_off(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINVK_SESSION__AUTO_RESUME", "false")
    world.invoke("-o", "json", "one")
    world.invoke("-o", "json", "two")
    assert len(sessions(world)) == 2


def test_continue_flag_resumes_even_without_auto_resume(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_SESSION__AUTO_RESUME", "false")
    world.invoke("-b", "fake2", "-o", "json", "one")
    result = world.invoke("-c", "-o", "json", "two")
    assert json.loads(result.stdout)["backend"] == "fake2"
    assert "continuing session" in result.stderr
    assert len(sessions(world)) == 1


def test_continue_with_nothing_to_continue_starts_a_new_session(world: World) -> None:
    result = world.invoke("-c", "-o", "text", "two")
    assert result.exit_code == 0
    assert "no resumable session" in result.stderr
    assert len(sessions(world)) == 1


def test_ephemeral_keeps_no_session_and_tells_the_cli(world: World) -> None:
    world.invoke("-o", "json", "one")
    result = world.invoke("-o", "json", "--ephemeral", "two")
    assert json.loads(result.stdout)["clinvk_session_id"] is None
    assert "continuing" not in result.stderr
    assert "--ephemeral" in world.calls()[1]["argv"]
    assert len(sessions(world)) == 1


def test_resume_by_prefix(world: World) -> None:
    first = json.loads(world.invoke("-o", "json", "--new", "one").stdout)
    world.invoke("-o", "json", "--new", "other")
    result = world.invoke("resume", first["clinvk_session_id"][:5], "-o", "json", "two")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["clinvk_session_id"] == first["clinvk_session_id"]
    assert data["session_id"] == first["session_id"]


def test_resume_last_filters_by_backend(world: World) -> None:
    wanted = json.loads(world.invoke("-b", "fake2", "-o", "json", "one").stdout)
    world.invoke("-o", "json", "newer")
    result = world.invoke("resume", "--last", "-b", "fake2", "-o", "json", "two")
    assert json.loads(result.stdout)["clinvk_session_id"] == wanted["clinvk_session_id"]


def test_resume_refuses_ephemeral(world: World) -> None:
    world.invoke("-o", "json", "one")
    result = world.invoke("resume", "--last", "--ephemeral", "two")
    assert result.exit_code == 2
    assert "--ephemeral" in result.stderr


def test_resume_unknown_session_exits_5(world: World) -> None:
    result = world.invoke("resume", "abcdef", "hi")
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: ")
    assert world.calls() == []


def test_resume_last_with_no_sessions_exits_5(world: World) -> None:
    result = world.invoke("resume", "--last", "hi")
    assert result.exit_code == 5
    assert "no resumable session" in result.stderr


# -- failures and exit codes -------------------------------------------------------------------


def test_the_clis_exit_code_is_passed_through(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_BACKENDS__FAKE__EXTRA_FLAGS", "--exit-code,7")
    result = world.invoke("-o", "text", "hi")
    assert result.exit_code == 7
    assert result.stderr.startswith("Error [fake]: ")


def test_a_reported_error_with_exit_0_exits_1(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_BACKENDS__FAKE__EXTRA_FLAGS", "--error-event,quota exceeded")
    result = world.invoke("-o", "json", "hi")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "quota exceeded"


def test_a_crash_mid_stream_is_an_error_not_a_short_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINVK_BACKENDS__FAKE__EXTRA_FLAGS", "--crash-after,1")
    result = world.invoke("-o", "text", "a long question")
    assert result.exit_code == 3
    assert "lost connection" in result.stderr


def test_timeout_exits_124(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINVK_BACKENDS__FAKE__EXTRA_FLAGS", "--hang")
    started = time.monotonic()
    result = world.invoke("-o", "text", "--timeout", "0.5", "hi")
    assert result.exit_code == 124
    assert "timed out after 0.5s" in result.stderr
    assert time.monotonic() - started < 10


def test_unknown_backend_exits_2_listing_the_installed_ones(world: World) -> None:
    result = world.invoke("-b", "nope", "hi")
    assert result.exit_code == 2
    assert result.stderr == "Error: unknown backend 'nope' (installed: fake, fake2)\n"


def test_a_missing_cli_exits_4_with_an_install_hint(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (world.bin / "fake-cli").unlink()
    result = world.invoke("hi")
    assert result.exit_code == 4
    assert "pip install fake-cli" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_invalid_config_exits_3(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINVK_UNIFIED_FLAGS__APPROVAL_MODE", "sometimes")
    result = world.invoke("hi")
    assert result.exit_code == 3
    assert "CLINVK_UNIFIED_FLAGS__APPROVAL_MODE" in result.stderr


def test_debug_shows_a_traceback_only_when_asked(world: World) -> None:
    quiet = world.invoke("-b", "nope", "hi")
    loud = world.invoke("--debug", "-b", "nope", "hi")
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr
    assert loud.exit_code == quiet.exit_code == 2


# -- Ctrl-C in a real process ------------------------------------------------------------------

LAUNCHER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from support.core_fakes import fake_host
    from clinvoker.plugins import reset_host
    reset_host(fake_host())
    from clinvoker.cli.main import main
    main(sys.argv[1:])
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_backend_and_exits_130(
    world: World, tmp_path: Path, sig: signal.Signals
) -> None:
    env = dict(
        os.environ, CLINVK_BACKENDS__FAKE__EXTRA_FLAGS="--hang,--pidfile," + str(tmp_path / "pid")
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER.format(tests=str(TESTS)), "-o", "text", "hi"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    pidfile = tmp_path / "pid"
    deadline = time.monotonic() + 30
    while not pidfile.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fake CLI never started"
        time.sleep(0.02)
    child = int(pidfile.read_text())
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not pid_alive(child)
    assert sessions(world)[0]["status"] == "error"
