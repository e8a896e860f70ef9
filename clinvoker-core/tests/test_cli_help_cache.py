"""``clinvk --help`` answered from the cache: same bytes as click, and never stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
import click

from clinvoker.hookspecs import hookimpl


@click.command("greet", short_help="{summary}")
def greet() -> None:
    """Say hello."""


@hookimpl
def clinvoker_register_commands(cli: click.Group) -> None:
    cli.add_command(greet)
'''

RUN = textwrap.dedent(
    """
    import json, sys
    from clinvoker.cli.main import main
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    sys.stdout.flush()
    sys.stderr.write("\\n@@" + json.dumps([code, "click" in sys.modules]))
    """
)


class Env:
    """A clinvk home, a site directory for plugins and a quiet working directory."""

    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "home"
        self.site = tmp / "site"
        self.cwd = tmp / "cwd"
        for folder in (self.site, self.cwd):
            folder.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLINVK_")}
        self.env.update(CLINVK_HOME=str(self.home), PYTHONPATH=str(self.site), COLUMNS="90")

    def help(self, *args: str, cache: bool = True, **extra: str) -> tuple[str, bool]:
        """Run ``clinvk args`` (default ``--help``); its stdout and whether it imported click."""
        env = {**self.env, **extra}
        if not cache:
            env["CLINVK_NO_HELP_CACHE"] = "1"
        proc = subprocess.run(
            [sys.executable, "-c", RUN, *(args or ("--help",))],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.cwd,
            timeout=60,
        )
        err, _, tail = proc.stderr.rpartition("\n@@")
        code, used_click = json.loads(tail)
        assert code == 0, err
        assert err == ""
        return proc.stdout, used_click

    def install(self, summary: str) -> None:
        package = self.site / "clinvk_test_greet"
        package.mkdir(exist_ok=True)
        (package / "__init__.py").write_text(PLUGIN.format(summary=summary))
        info = self.site / "clinvk_test_greet-0.1.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clinvk-test-greet\n")
        (info / "entry_points.txt").write_text("[clinvoker]\ngreet = clinvk_test_greet\n")

    def uninstall(self) -> None:
        for path in sorted(self.site.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()

    def cache_files(self) -> list[Path]:
        return sorted((self.home / "cache").glob("help-*.txt"))


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_cached_help_is_byte_identical_and_skips_click(env: Env) -> None:
    expected, _ = env.help(cache=False)
    assert env.cache_files() == []  # CLINVK_NO_HELP_CACHE neither reads nor writes
    first, first_click = env.help()
    second, second_click = env.help()
    assert first == second == expected
    assert "Usage: clinvk" in expected
    assert (first_click, second_click) == (True, False)
    [cache] = env.cache_files()
    assert cache.name == "help-90.txt"
    assert cache.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("args", [("-h",), ("help",)])
def test_short_flag_and_help_command_use_the_same_cache(env: Env, args: tuple[str, ...]) -> None:
    expected, _ = env.help(cache=False)
    env.help()
    assert env.help(*args) == (expected, False)


def test_installing_editing_and_removing_a_plugin_is_seen(env: Env) -> None:
    env.help()
    env.install("Greet the user.")
    installed, used_click = env.help()
    assert used_click  # the dist-info directory changed: the cache is not trusted
    assert "Greet the user." in installed
    assert installed == env.help(cache=False)[0] == env.help()[0]

    env.install("Greet everybody warmly.")  # an editable plugin edited in place
    edited, used_click = env.help()
    assert used_click
    assert "Greet everybody warmly." in edited
    assert edited == env.help(cache=False)[0]

    env.uninstall()
    removed, used_click = env.help()
    assert used_click
    assert "greet" not in removed
    assert removed == env.help(cache=False)[0]


def test_terminal_width_and_disabled_plugins_change_the_text(env: Env) -> None:
    env.install("Greet the user.")
    wide, _ = env.help()
    narrow, used_click = env.help(COLUMNS="60")
    assert used_click
    assert narrow == env.help(cache=False, COLUMNS="60")[0] != wide
    assert env.help() == (wide, False)  # each width keeps its own file
    without, used_click = env.help(CLINVK_DISABLE_PLUGINS="greet")
    assert used_click
    assert "Greet the user." not in without


def test_a_damaged_cache_is_ignored_and_rewritten(env: Env) -> None:
    expected, _ = env.help()
    [cache] = env.cache_files()
    cache.write_bytes(cache.read_bytes()[:200])
    assert env.help() == (expected, True)
    cache.write_bytes(b"\xff\xfe not a cache")
    assert env.help() == (expected, True)
    assert env.help() == (expected, False)


def test_an_unwritable_home_still_prints_the_help(env: Env, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env.env["CLINVK_HOME"] = str(blocker / "home")  # cannot be created: a file is in the way
    expected, _ = env.help(cache=False)
    assert env.help() == (expected, True)
    assert env.help() == (expected, True)
