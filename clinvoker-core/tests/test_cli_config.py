"""``clinvk config show | get | set | path`` against a temporary clinvk home."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from clinvoker.cli.app import cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(os.environ):
        if var.startswith("CLINVK_"):
            monkeypatch.delenv(var)
    home = tmp_path / "home"
    monkeypatch.setenv("CLINVK_HOME", str(home))
    return home


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_config_path_is_in_the_clinvk_home(home: Path) -> None:
    result = invoke("config", "path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(home / "config.yaml")


def test_config_path_follows_the_config_flag(home: Path, tmp_path: Path) -> None:
    result = invoke("--config", str(tmp_path / "x.yaml"), "config", "path")
    assert result.stdout.strip() == str(tmp_path / "x.yaml")


def test_set_then_get_round_trips_typed_values(home: Path) -> None:
    assert invoke("config", "set", "session.auto_resume", "false").stdout == (
        "Set session.auto_resume = false\n"
    )
    assert invoke("config", "get", "session.auto_resume").stdout == "false\n"
    invoke("config", "set", "server.port", "9001")
    assert invoke("config", "get", "server.port").stdout == "9001\n"
    stored = yaml.safe_load((home / "config.yaml").read_text())
    assert stored == {"session": {"auto_resume": False}, "server": {"port": 9001}}


def test_set_a_list_value(home: Path) -> None:
    result = invoke("config", "set", "backends.claude.allowed_tools", "Read,Grep")
    assert result.exit_code == 0
    assert "Read" in result.stdout
    assert invoke("config", "get", "backends.claude.allowed_tools").stdout == "- Read\n- Grep\n"


def test_set_writes_to_the_file_given_with_config(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    result = invoke("config", "set", "default_backend", "gemini", "--config", str(other))
    assert result.exit_code == 0
    assert yaml.safe_load(other.read_text()) == {"default_backend": "gemini"}
    assert not (home / "config.yaml").exists()


def test_an_invalid_value_exits_3_naming_key_value_and_choices(home: Path) -> None:
    result = invoke("config", "set", "unified_flags.approval_mode", "sometimes")
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "unified_flags.approval_mode" in result.stderr
    assert "'sometimes'" in result.stderr
    assert "always" in result.stderr
    assert not (home / "config.yaml").exists()


def test_an_unknown_key_exits_3(home: Path) -> None:
    result = invoke("config", "get", "sesion.auto_resume")
    assert result.exit_code == 3
    assert "session" in result.stderr


def test_show_prints_yaml_of_the_effective_config(home: Path) -> None:
    home.mkdir()
    (home / "config.yaml").write_text("default_backend: codex\n")
    result = invoke("config", "show")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"# {home / 'config.yaml'}\n")
    data = yaml.safe_load(result.stdout)
    assert data["default_backend"] == "codex"
    assert data["session"]["auto_resume"] is True


def test_show_json_is_one_object(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINVK_OUTPUT__SHOW_TOKENS", "true")
    result = invoke("config", "show", "--json")
    data = json.loads(result.stdout)
    assert data["output"]["show_tokens"] is True


def test_show_hides_api_keys(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINVK_API_KEYS", "sekret-1,sekret-2")
    result = invoke("config", "show")
    assert "sekret" not in result.stdout


def test_a_broken_config_file_exits_3_with_one_line(home: Path) -> None:
    home.mkdir()
    (home / "config.yaml").write_text("session:\n  retention_days: -4\n")
    result = invoke("sessions", "list")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert "retention_days" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_explicit_config_file_exits_3(home: Path, tmp_path: Path) -> None:
    result = invoke("--config", str(tmp_path / "nope.yaml"), "config", "show")
    assert result.exit_code == 3
    assert "does not exist" in result.stderr


def test_config_set_works_even_when_the_current_file_is_invalid(home: Path) -> None:
    home.mkdir()
    (home / "config.yaml").write_text("output:\n  format: yaml\n")
    assert invoke("config", "show").exit_code == 3
    assert invoke("config", "set", "output.format", "text").exit_code == 0
    assert invoke("config", "get", "output.format").stdout == "text\n"
