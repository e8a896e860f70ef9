"""``clinvk backends``: installed or not, path, version, untested versions, plugin failures."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from clinvoker.cli.app import cli
from clinvoker.hookspecs import hookimpl
from clinvoker.plugins import PluginHost, reset_host
from support.core_fakes import FakeBackend, install_fake_cli


class FakePlugin:
    @hookimpl
    def clinvoker_register_backends(self, register: Any) -> None:
        register(FakeBackend())


class BrokenPlugin:
    @hookimpl
    def clinvoker_register_backends(self, register: Any) -> None:
        raise RuntimeError("cannot find my config")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(os.environ):
        if var.startswith(("CLINVK_", "FAKE_CLI")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("CLINVK_HOME", str(tmp_path / "home"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


@pytest.fixture
def host() -> Iterator[None]:
    reset_host(
        PluginHost(
            plugins=[("fake", FakePlugin()), ("broken", BrokenPlugin())], load_entry_points=False
        )
    )
    yield
    reset_host(None)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_a_missing_cli_says_how_to_install_it(env: Path, host: None) -> None:
    result = invoke("backends")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["fake", "no", "-", "-"]
    assert "pip install fake-cli" in result.stdout


def test_an_installed_cli_shows_path_and_version(env: Path, host: None) -> None:
    exe = install_fake_cli(env)
    result = invoke("backends")
    row = result.stdout.splitlines()[1].split()
    assert row == ["fake", "yes", "1.4.2", str(exe)]
    assert "warning" not in result.stdout


def test_an_untested_version_gets_a_warning(
    env: Path, host: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_cli(env)
    monkeypatch.setenv("FAKE_CLI_VERSION", "fake-cli 2.3.0")
    result = invoke("backends")
    assert "fake: warning: version 2.3.0 was not tested (tested: >=1.4,<2)" in result.stdout


def test_plugin_failures_are_listed_with_name_and_error(env: Path, host: None) -> None:
    result = invoke("backends")
    assert "Plugins that failed to load:" in result.stdout
    assert "broken: " in result.stdout
    assert "cannot find my config" in result.stdout


def test_json_report(env: Path, host: None) -> None:
    install_fake_cli(env)
    data = json.loads(invoke("backends", "--json").stdout)
    (fake,) = data["backends"]
    assert fake["backend"] == "fake"
    assert fake["installed"] is True
    assert fake["version"] == "1.4.2"
    assert fake["tested"] is True
    assert data["plugin_failures"][0]["name"] == "broken"


def test_no_backends_at_all_says_how_to_install_one(env: Path) -> None:
    reset_host(PluginHost(load_entry_points=False))
    try:
        result = invoke("backends")
    finally:
        reset_host(None)
    assert result.exit_code == 0
    assert "No backends are installed" in result.stdout
    assert "pip install clinvoker-backend-claude" in result.stdout
