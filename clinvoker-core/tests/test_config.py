"""Configuration: Go-compatible keys, precedence, environment variables and one-line errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from clinvoker.config import (
    Config,
    ConfigError,
    config_to_dict,
    get_config_value,
    load_config,
    set_config_value,
)
from clinvoker.paths import clinvk_home, config_path, sessions_dir

# A config.yaml as a user of the Go tool has it: every section, Go spellings, and the strings
# its `clinvk config set` stored for numbers, booleans and lists.
GO_CONFIG = """\
default_backend: codex
unified_flags:
  approval_mode: auto
  sandbox_mode: workspace
  verbose: false
  dry_run: false
  max_turns: 10
  max_tokens: 0
  command_timeout_secs: "600"
backends:
  claude:
    model: sonnet
    allowed_tools: "Read,Edit,Bash(git *)"
    approval_mode: ""
    sandbox_mode: ""
    extra_flags: []
    system_prompt: "Be brief."
    enabled: true
  codex:
    model: o3
    extra_flags: ["--skip-git-repo-check"]
  gemini:
    model: gemini-2.5-pro
session:
  auto_resume: "false"
  retention_days: 14
  default_tags: "work,laptop"
  store_token_usage: true
output:
  format: text
  show_tokens: true
  show_timing: false
  color: true
parallel:
  max_workers: 5
  fail_fast: true
  aggregate_output: true
server:
  host: 0.0.0.0
  port: "9000"
  request_timeout_secs: 300
  read_timeout_secs: 30
  write_timeout_secs: 300
  idle_timeout_secs: 120
  api_keys_gopass_path: team/clinvk
  rate_limit_enabled: true
  rate_limit_rps: 5
  rate_limit_burst: 10
  rate_limit_cleanup_secs: 180
  trusted_proxies: ["10.0.0.0/8"]
  max_request_body_bytes: 10485760
  cors_allowed_origins: ["http://localhost:3000"]
  cors_allow_credentials: false
  cors_max_age: 600
  allowed_workdir_prefixes: ["/home/dev/src"]
  blocked_workdir_prefixes: []
  metrics_enabled: true
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private clinvk home (never the real user's)."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {"CLINVK_HOME": str(home), "HOME": str(home.parent), **extra}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(text: str, tmp_path: Path) -> str:
    file = write(tmp_path / "config.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(file, env={})
    message = str(info.value)
    assert "\n" not in message
    return message


# -- loading -----------------------------------------------------------------------------------


def test_defaults_are_the_go_tools_defaults(home: Path) -> None:
    config = load_config(env=env_for(home))
    assert config.default_backend == "claude"
    assert config.unified_flags.approval_mode == "default"
    assert config.session.auto_resume is True
    assert config.session.retention_days == 30
    assert config.output.format == "json"
    assert config.parallel.max_workers == 3
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.server.max_request_body_bytes == 10 * 1024 * 1024
    assert config.server.max_concurrent_per_backend == 4
    assert config.server.queue_size == 16
    assert config.server.route_unknown_models is False
    assert config.backend("claude").model == ""


def test_a_go_users_config_loads_unchanged(home: Path) -> None:
    write(home / "config.yaml", GO_CONFIG)
    config = load_config(env=env_for(home))
    assert config.default_backend == "codex"
    assert config.unified_flags.approval_mode == "auto"
    assert config.unified_flags.command_timeout_secs == 600
    assert config.backend("claude").allowed_tools == ["Read", "Edit", "Bash(git *)"]
    assert config.backend("claude").enabled is True
    assert config.backend("codex").extra_flags == ["--skip-git-repo-check"]
    assert config.session.auto_resume is False
    assert config.session.default_tags == ["work", "laptop"]
    assert config.output.format == "text"
    assert config.server.port == 9000
    assert config.server.rate_limit_rps == 5
    assert config.server.trusted_proxies == ["10.0.0.0/8"]
    assert config.server.api_keys_gopass_path == "team/clinvk"


def test_keys_are_matched_case_insensitively_like_the_go_tool(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "Server:\n  Port: 7000\nDefault_Backend: gemini\n")
    config = load_config(file, env={})
    assert (config.server.port, config.default_backend) == (7000, "gemini")


def test_empty_sections_and_nulls_fall_back_to_defaults(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "server:\nsession:\n  retention_days: ~\n")
    config = load_config(file, env={})
    assert config.server.port == 8080
    assert config.session.retention_days == 30


def test_new_keys_for_plugins_and_the_server(tmp_path: Path) -> None:
    file = write(
        tmp_path / "c.yaml",
        """\
        backends:
          mytool:
            path: /opt/mytool/bin/mytool
            env: {MYTOOL_TELEMETRY: "0"}
            disallowed_tools: [Bash]
        server:
          api_keys: [k-one]
          keys:
            - name: ci
              key_env: CI_CLINVK_KEY
              backends: [claude]
              access: read-only
              workdir_roots: [/srv/builds]
              max_concurrent: 2
              rate_limit_rps: 0.5
          model_aliases: {gpt-4o: codex/o3}
          log_format: json
        """,
    )
    config = load_config(file, env={})
    assert config.backend("mytool").path == "/opt/mytool/bin/mytool"
    assert config.backend("mytool").env == {"MYTOOL_TELEMETRY": "0"}
    ci = config.server.keys[0]
    assert (ci.name, ci.access, ci.rate_limit_rps) == ("ci", "read-only", 0.5)
    assert ci.secret({"CI_CLINVK_KEY": "s3cret"}) == "s3cret"
    assert ci.secret({}) is None
    assert config.server.model_aliases == {"gpt-4o": "codex/o3"}


def test_precedence_is_flags_then_env_then_file_then_defaults(home: Path) -> None:
    write(
        home / "config.yaml",
        "default_backend: codex\nserver: {port: 9000, host: 0.0.0.0}\n"
        "backends: {claude: {model: opus}}\n",
    )
    env = env_for(home, CLINVK_SERVER__PORT="9100", CLINVK_CLAUDE_MODEL="haiku")
    config = load_config(env=env, overrides={"server.port": 9200, "default_backend": None})
    assert config.server.port == 9200  # flag beats env and file
    assert config.backend("claude").model == "haiku"  # env beats file
    assert config.default_backend == "codex"  # a flag left unset (None) changes nothing
    assert config.server.host == "0.0.0.0"  # file beats default
    assert config.server.queue_size == 16  # default


def test_environment_variables_with_type_coercion(home: Path) -> None:
    env = env_for(
        home,
        CLINVK_BACKEND="gemini",
        CLINVK_MYTOOL_MODEL="mega-1",
        CLINVK_API_KEYS="k1, k2",
        CLINVK_API_KEYS_GOPASS_PATH="team/keys",
        CLINVK_SERVER__RATE_LIMIT_ENABLED="yes",
        CLINVK_SERVER__RATE_LIMIT_RPS="2.5",
        CLINVK_SERVER__CORS_ALLOWED_ORIGINS="http://a.test,http://b.test",
        CLINVK_UNIFIED_FLAGS__APPROVAL_MODE="none",
        CLINVK_BACKENDS__CLAUDE__EXTRA_FLAGS='["--verbose", "--debug"]',
        CLINVK_BACKENDS__CLAUDE__ENV__ANTHROPIC_BASE_URL="http://127.0.0.1:9",
        CLINVK_SERVER__KEYS='[{"name": "ci", "key": "abc", "access": "read-only"}]',
        CLINVK_SERVER__MODEL_ALIASES='{"fast": "claude/haiku"}',
    )
    config = load_config(env=env)
    assert config.default_backend == "gemini"
    assert config.backend("mytool").model == "mega-1"
    assert config.server.api_keys == ["k1", "k2"]
    assert config.server.api_keys_gopass_path == "team/keys"
    assert config.server.rate_limit_enabled is True
    assert config.server.rate_limit_rps == 2.5
    assert config.server.cors_allowed_origins == ["http://a.test", "http://b.test"]
    assert config.unified_flags.approval_mode == "none"
    assert config.backend("claude").extra_flags == ["--verbose", "--debug"]
    assert config.backend("claude").env == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    assert config.server.keys[0].access == "read-only"
    assert config.server.model_aliases == {"fast": "claude/haiku"}


def test_other_clinvk_variables_are_not_config_keys(home: Path) -> None:
    env = env_for(home, CLINVK_DISABLE_PLUGINS="x", CLINVK_TEST_CLIS_BIN="/nowhere", CLINVK_X="")
    assert load_config(env=env) == Config()


def test_an_explicit_config_file_must_exist(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*missing\.yaml does not exist"):
        load_config(tmp_path / "missing.yaml", env=env_for(home))
    env = env_for(home, CLINVK_CONFIG=str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match="CLINVK_CONFIG"):
        load_config(env=env)


def test_clinvk_config_picks_the_file(home: Path, tmp_path: Path) -> None:
    other = write(tmp_path / "elsewhere.yaml", "default_backend: gemini\n")
    write(home / "config.yaml", "default_backend: codex\n")
    assert load_config(env=env_for(home, CLINVK_CONFIG=str(other))).default_backend == "gemini"
    assert load_config(env=env_for(home)).default_backend == "codex"


# -- errors ------------------------------------------------------------------------------------

BAD_FILES = [
    (
        "unified_flags: {approval_mode: sometimes}",
        "unified_flags.approval_mode: 'sometimes' is not one of default, auto, none, always",
    ),
    ("server:\n  prot: 80\n", "unknown key 'server.prot' in {file} (did you mean 'server.port'?)"),
    ("port: 80\n", "unknown key 'port' in {file} (did you mean 'server.port'?)"),
    ("server: {port: 70000}", "server.port: 70000 is not an integer between 0 and 65535"),
    ("server: {port: [80]}", "server.port: [80] is not an integer between 0 and 65535"),
    ("session: {retention_days: -1}", "session.retention_days: -1 is not a non-negative integer"),
    ("parallel: {max_workers: 0}", "parallel.max_workers: 0 is not an integer >= 1"),
    (
        "output: {format: yaml}",
        "output.format: 'yaml' is not one of default, text, json, stream-json",
    ),
    ("unified_flags: {verbose: 3}", "unified_flags.verbose: 3 is not true or false"),
    (
        "backends: {claude: {sandbox_mode: strict}}",
        "backends.claude.sandbox_mode: 'strict' is not one of default, read-only, workspace, full (or empty)",
    ),
    (
        "backends: {claude: {extra_flags: {a: 1}}}",
        "backends.claude.extra_flags: expected a list, got {a: 1}",
    ),
    (
        "server: {rate_limit_enabled: true, rate_limit_rps: 0}",
        "server.rate_limit_rps: must be greater than 0 when server.rate_limit_enabled is true",
    ),
    ("server: {host: 'my host'}", "server.host: 'my host' is not an IP address or host name"),
    ("server: {keys: [{key: abc}]}", "server.keys[0]: missing required key 'name'"),
    (
        "server: {keys: [{name: ci}]}",
        "server.keys[0]: key 'ci' needs exactly one of 'key' and 'key_env'",
    ),
    (
        "server: {keys: [{name: a, key: x}, {name: a, key: y}]}",
        "server.keys[1].name: 'a' is used by two keys; names must be unique",
    ),
    (
        "server: {keys: [{name: a, key: x, acess: full}]}",
        "unknown key 'server.keys[0].acess' in {file} (did you mean 'server.keys[0].access'?)",
    ),
    (
        "server: {model_aliases: {gpt-4.1: claude}}",
        "server.model_aliases.gpt-4.1: 'claude' is not of the form backend/model (e.g. claude/haiku)",
    ),
    (
        "default_backend: ''",
        "default_backend: '' is not a backend name (e.g. claude, codex, gemini)",
    ),
    ("session: [1, 2]", "session: expected a section of keys, got [1, 2]"),
    (
        "- just\n- a list\n",
        "expected keys such as 'default_backend:' at the top level, got ['just', 'a list']",
    ),
    ("server:\n  port: 80\n bad: indent\n", "invalid YAML at line 3, column 2: "),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_a_bad_file_is_one_line_naming_file_key_value_and_what_is_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    file = tmp_path / "config.yaml"
    message = error_of(text, tmp_path)
    if "{file}" in expected:
        assert message == expected.format(file=file)
    else:
        assert message.startswith(f"{file}: {expected}")


def test_bad_environment_values_name_the_variable(home: Path) -> None:
    cases = {
        "CLINVK_SERVER__PORT": ("abc", "CLINVK_SERVER__PORT: server.port: 'abc' is not an integer"),
        "CLINVK_SERVER__PROT": (
            "1",
            "unknown key 'server.prot' in CLINVK_SERVER__PROT (did you mean 'server.port'?)",
        ),
        "CLINVK_UNIFIED_FLAGS__VERBOSE": (
            "maybe",
            "unified_flags.verbose: 'maybe' is not true or false",
        ),
        "CLINVK_SERVER__KEYS": ("ci", "CLINVK_SERVER__KEYS: server.keys: 'ci' is not a JSON list"),
    }
    for var, (value, expected) in cases.items():
        with pytest.raises(ConfigError) as info:
            load_config(env=env_for(home, **{var: value}))
        assert expected in str(info.value), var


def test_rules_name_the_variable_that_broke_them(home: Path) -> None:
    write(home / "config.yaml", "server: {rate_limit_enabled: true}\n")
    with pytest.raises(
        ConfigError, match=r"^CLINVK_SERVER__RATE_LIMIT_RPS: server\.rate_limit_rps: must be"
    ):
        load_config(env=env_for(home, CLINVK_SERVER__RATE_LIMIT_RPS="0"))
    with pytest.raises(ConfigError, match=r"^command line: unified_flags.approval_mode: 'x'"):
        load_config(env=env_for(home), overrides={"unified_flags.approval_mode": "x"})


def test_a_flag_for_an_unknown_key_is_reported(home: Path) -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'output.format'"):
        load_config(env=env_for(home), overrides={"output.fromat": "text"})


# -- config get / set --------------------------------------------------------------------------


def test_get_config_value(home: Path) -> None:
    write(home / "config.yaml", GO_CONFIG)
    config = load_config(env=env_for(home))
    assert get_config_value(config, "server.port") == 9000
    assert get_config_value(config, "backends.claude.allowed_tools") == [
        "Read",
        "Edit",
        "Bash(git *)",
    ]
    assert get_config_value(config, "backends.newtool.model") == ""  # a backend's defaults
    assert get_config_value(config, "server.model_aliases.fast") is None
    assert get_config_value(config, "session")["retention_days"] == 14
    with pytest.raises(
        ConfigError,
        match=r"unknown config key 'session.retension_days' \(did you mean 'session.retention_days'\?\)",
    ):
        get_config_value(config, "session.retension_days")


def test_set_writes_the_file_in_use_not_the_home_one(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the Go tool always wrote ~/.clinvk/config.yaml, even with --config (its gap #26)
    in_use = write(tmp_path / "team" / "clinvk.yaml", GO_CONFIG)
    monkeypatch.setenv("CLINVK_HOME", str(home))
    monkeypatch.setenv("CLINVK_CONFIG", str(in_use))
    assert set_config_value("server.port", "9300") == 9300
    assert not (home / "config.yaml").exists()
    assert load_config().server.port == 9300
    # every other key survives, including the Go spelling of allowed_tools
    data = yaml.safe_load(in_use.read_text())
    assert data["backends"]["claude"]["allowed_tools"] == "Read,Edit,Bash(git *)"
    assert data["server"]["trusted_proxies"] == ["10.0.0.0/8"]


def test_set_parses_values_to_the_keys_type(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    assert set_config_value("session.auto_resume", "off", file) is False
    assert set_config_value("session.default_tags", "a, b", file) == ["a", "b"]
    assert set_config_value("server.rate_limit_rps", "0.5", file) == 0.5
    assert set_config_value("backends.mytool.extra_flags", '["--x", "y z"]', file) == ["--x", "y z"]
    assert set_config_value("server.model_aliases.gpt-4.1", "codex/o3", file) == "codex/o3"
    assert set_config_value("unified_flags.max_turns", 7, file) == 7  # typed values pass through
    data = yaml.safe_load(file.read_text())
    assert data == {
        "session": {"auto_resume": False, "default_tags": ["a", "b"]},
        "server": {"rate_limit_rps": 0.5, "model_aliases": {"gpt-4.1": "codex/o3"}},
        "backends": {"mytool": {"extra_flags": ["--x", "y z"]}},
        "unified_flags": {"max_turns": 7},
    }
    config = load_config(file, env={})
    assert config.server.model_aliases == {"gpt-4.1": "codex/o3"}


def test_set_creates_a_private_directory_and_file(tmp_path: Path) -> None:
    file = tmp_path / "new" / "dir" / "config.yaml"
    set_config_value("default_backend", "gemini", file)
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert load_config(file, env={}).default_backend == "gemini"


def test_set_refuses_bad_values_and_leaves_the_file_alone(tmp_path: Path) -> None:
    file = write(tmp_path / "config.yaml", "server: {rate_limit_rps: 0}\n")
    before = file.read_bytes()
    with pytest.raises(ConfigError, match=r"^server.port: 'high' is not an integer"):
        set_config_value("server.port", "high", file)
    with pytest.raises(ConfigError, match="rate_limit_rps: must be greater than 0"):
        set_config_value("server.rate_limit_enabled", "true", file)
    with pytest.raises(
        ConfigError, match=r"unknown config key 'server.prot' \(did you mean 'server.port'\?\)"
    ):
        set_config_value("server.prot", "1", file)
    with pytest.raises(
        ConfigError, match=r"'server' is a section; set one of its keys, e.g. server.host"
    ):
        set_config_value("server", "x", file)
    assert file.read_bytes() == before


def test_set_follows_a_symlinked_config(tmp_path: Path) -> None:
    real = write(tmp_path / "dotfiles" / "clinvk.yaml", "default_backend: codex\n")
    link = tmp_path / "config.yaml"
    link.symlink_to(real)
    set_config_value("output.format", "text", link)
    assert link.is_symlink()
    assert load_config(real, env={}).output.format == "text"


def test_config_to_dict_hides_secrets_and_round_trips(tmp_path: Path) -> None:
    file = write(
        tmp_path / "config.yaml",
        "server:\n  api_keys: [k1]\n  keys: [{name: ci, key: topsecret}, {name: bot, key_env: BOT_KEY}]\n",
    )
    config = load_config(file, env={})
    shown = config_to_dict(config)
    assert shown["server"]["api_keys"] == ["***"]
    assert [k["key"] for k in shown["server"]["keys"]] == ["***", ""]
    assert "topsecret" not in repr(shown)
    full = write(tmp_path / "full.yaml", yaml.safe_dump(config_to_dict(config, redact=False)))
    assert load_config(full, env={}) == config


# -- locations ---------------------------------------------------------------------------------


def test_home_prefers_clinvk_home_then_an_existing_dot_clinvk(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    env = {"HOME": str(user), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert clinvk_home({**env, "CLINVK_HOME": str(tmp_path / "h")}) == tmp_path / "h"
    fresh = clinvk_home(env)
    assert fresh != user / ".clinvk"
    assert fresh.name == "clinvk"
    (user / ".clinvk").mkdir()  # a Go tool user keeps their data
    assert clinvk_home(env) == user / ".clinvk"
    assert config_path(env) == user / ".clinvk" / "config.yaml"
    assert sessions_dir(env) == user / ".clinvk" / "sessions"
    assert config_path({**env, "CLINVK_CONFIG": "~/c.yaml"}) == user / "c.yaml"


def test_loading_without_a_file_does_not_import_yaml(home: Path) -> None:
    code = (
        "import sys, clinvoker.config as c; c.load_config(); "
        "print('yaml' in sys.modules, 'platformdirs' in sys.modules)"
    )
    env = {**os.environ, "CLINVK_HOME": str(home)}
    env.pop("CLINVK_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_a_settled_config_file_is_read_without_the_yaml_parser(home: Path) -> None:
    file = write(home / "config.yaml", "server: {port: 9100}\n")
    an_hour_ago = time.time() - 3600
    os.utime(file, (an_hour_ago, an_hour_ago))
    code = (
        "import sys, clinvoker.config as c; "
        "print(c.load_config().server.port, 'yaml' in sys.modules)"
    )
    env = {**os.environ, "CLINVK_HOME": str(home)}
    env.pop("CLINVK_CONFIG", None)

    def load() -> str:
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert load() == "9100 True"
    assert load() == "9100 False"  # parsed once, then served from the cache
    assert stat.S_IMODE((home / "cache" / "config.msgpack").stat().st_mode) == 0o600
    file.write_text("server: {port: 9200}\n")  # an edit is seen at once
    assert load() == "9200 True"
