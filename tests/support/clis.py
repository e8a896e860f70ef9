"""The real CLIs in tests: finding them, isolated environments, and running processes.

Every CLI run gets its own ``HOME``, ``TMPDIR``, ``CODEX_HOME`` and ``CLINVK_HOME`` under the
test's temp dir, with the settings that keep the CLIs offline, quiet and quick to fail (no
retries, no telemetry, no update checks) and that point them at the fake model API::

    env = build_cli_env(tmp_path / "claude", backend="claude", base_url=api.base_url("ok"),
                        bin_dir=find_cli_bin())
    rc, out, err = run_process(["claude", "-p", "hi"], env, cwd=env.workdir)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "CLI_NAMES",
    "FAKE_API_KEY",
    "PINNED_PACKAGES",
    "TEST_MODELS",
    "CliEnv",
    "CliEnvFactory",
    "ClinvkRunner",
    "Completed",
    "build_cli_env",
    "clinvk_executable",
    "find_cli_bin",
    "install_hint",
    "path_without",
    "run_clinvk",
    "run_process",
]

CLI_NAMES = ("claude", "codex", "gemini")
PINNED_PACKAGES = {
    "claude": "@anthropic-ai/claude-code@2.1.197",
    "codex": "@openai/codex@0.169.0",
    "gemini": "@google/gemini-cli@0.61.0",
}
"""The npm packages the suite is pinned to (their output formats drift between releases)."""

TEST_MODELS = {"claude": "claude-sonnet-4-5", "codex": "gpt-5.5", "gemini": "gemini-2.5-pro"}
"""Models each CLI knows, so it sends exactly one request (no router call, no metadata warning)."""

FAKE_API_KEY = "sk-test"
ENV_VAR = "CLINVK_TEST_CLIS_BIN"


def install_hint() -> str:
    """How to get the pinned CLIs, for skip and error messages."""
    return (
        f"set {ENV_VAR} to the bin dir of `npm install --prefix DIR "
        + " ".join(PINNED_PACKAGES.values())
        + "` (DIR/node_modules/.bin), put the CLIs on PATH, or run `nox -s integration`"
    )


def find_cli_bin() -> Path | None:
    """The directory holding the real CLIs.

    ``$CLINVK_TEST_CLIS_BIN`` when set (it must then hold all three: a wrong value is an error,
    not a skip); else the directory of the first of them found on ``PATH``; else ``None``.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        bin_dir = Path(configured)
        missing = [n for n in CLI_NAMES if not (bin_dir / n).exists()]
        if missing:
            raise FileNotFoundError(
                f"{ENV_VAR}={configured} does not contain {', '.join(missing)}; {install_hint()}"
            )
        return bin_dir
    for name in CLI_NAMES:
        if found := shutil.which(name):
            return Path(found).parent
    return None


def path_without(*names: str, path: str | None = None) -> str:
    """``PATH`` minus every directory that holds one of ``names`` (to simulate a missing CLI)."""
    dirs = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not any((Path(d) / n).exists() for n in names))


class CliEnv(dict[str, str]):
    """An environment (a plain ``dict`` for ``subprocess``) plus the directories it points at."""

    root: Path
    home: Path
    tmpdir: Path
    codex_home: Path
    clinvk_home: Path
    workdir: Path
    """A fresh, empty directory to run the CLI in (Claude and Gemini key sessions by cwd)."""


def _codex_config(base_url: str) -> str:
    return f"""\
model = "gpt-5.5"
model_provider = "fake"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false
apps = false
remote_plugin = false
unbounded_connection_retries = false

[otel]
exporter = "none"
trace_exporter = "none"
metrics_exporter = "none"

[model_providers.fake]
name = "Fake"
base_url = "{base_url}/v1"
env_key = "FAKE_OPENAI_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


_GEMINI_SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False, "maxAttempts": 1},
}


def build_cli_env(
    root: Path, *, backend: str = "all", base_url: str, bin_dir: Path | None
) -> CliEnv:
    """Create (or reuse) the dirs under ``root`` and return the environment for ``backend``.

    ``backend`` is ``claude``, ``codex``, ``gemini`` or ``all``. Calling it again with the same
    ``root`` keeps the CLIs' state (sessions) and only re-points them at ``base_url``.
    The environment is built from scratch: nothing of the caller's (API keys, proxies,
    ``CLINVK_*``) leaks in except ``PATH``.
    """
    env = CliEnv()
    env.root = root
    env.home, env.tmpdir, env.codex_home = root / "home", root / "tmp", root / "codex-home"
    env.clinvk_home, env.workdir = root / "clinvk-home", root / "work"
    for d in (env.home, env.tmpdir, env.codex_home, env.clinvk_home, env.workdir):
        d.mkdir(parents=True, exist_ok=True)
    path = os.environ.get("PATH", "")
    env.update(
        PATH=os.pathsep.join([str(bin_dir), path]) if bin_dir else path,
        HOME=str(env.home),
        TMPDIR=str(env.tmpdir),
        LANG="C.UTF-8",
        NO_PROXY="127.0.0.1,localhost",
        CLINVK_HOME=str(env.clinvk_home),
    )
    if backend in {"claude", "all"}:
        env.update(
            ANTHROPIC_BASE_URL=base_url,
            ANTHROPIC_API_KEY=FAKE_API_KEY,
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_AUTOUPDATER="1",
            DISABLE_TELEMETRY="1",
            DISABLE_ERROR_REPORTING="1",
            CLAUDE_CODE_MAX_RETRIES="0",
            IS_SANDBOX="1",
        )
    if backend in {"codex", "all"}:
        (env.codex_home / "config.toml").write_text(_codex_config(base_url))
        env.update(CODEX_HOME=str(env.codex_home), FAKE_OPENAI_API_KEY=FAKE_API_KEY)
    if backend in {"gemini", "all"}:
        settings = env.home / ".gemini" / "settings.json"
        settings.parent.mkdir(exist_ok=True)
        settings.write_text(json.dumps(_GEMINI_SETTINGS, indent=2))
        env.update(
            GEMINI_API_KEY=FAKE_API_KEY,
            GOOGLE_GEMINI_BASE_URL=base_url,
            GEMINI_CLI_NO_RELAUNCH="true",
            COLORTERM="truecolor",
        )
    if backend not in {*CLI_NAMES, "all"}:
        raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(CLI_NAMES)} or all")
    return env


class Completed(NamedTuple):
    """A finished process: ``rc, stdout, stderr = run_process(...)``."""

    rc: int
    stdout: str
    stderr: str


def run_process(
    argv: list[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = 60.0,
) -> Completed:
    """Run argv in its own process group; stdin is ``input`` or /dev/null (never an open pipe).

    On timeout the whole group is killed and :class:`TimeoutError` carries what it printed.
    Whatever the process left running in its group is killed when it exits.
    """
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        raise TimeoutError(
            f"{' '.join(argv)} did not finish within {timeout} s\n"
            f"--- stdout ---\n{out}\n--- stderr ---\n{err}"
        ) from None
    finally:
        _kill_group(proc.pid)
    return Completed(proc.returncode, out, err)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def clinvk_executable() -> Path:
    """The ``clinvk`` console script of the running interpreter's environment."""
    exe = Path(sys.executable).parent / "clinvk"
    if not exe.exists():
        raise FileNotFoundError(
            f"no clinvk console script next to {sys.executable}: install clinvoker-core into "
            "this environment (uv sync --all-packages --inexact)"
        )
    return exe


def start_with_ready_file(
    argv: list[str], ready: Path, *, env: dict[str, str], cwd: Path
) -> tuple[subprocess.Popen[str], str]:
    """Start ``argv + [ready]`` (a server whose last option takes the ready file) and wait,
    up to 30 s, until it writes its URL there; returns the process and the URL.

    The server's stderr is kept (a pipe) to explain a failed start; stdout is discarded.
    """
    import time

    import pytest

    proc = subprocess.Popen(
        [*argv, str(ready)],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{' '.join(argv[:2])} did not start: {proc.communicate()[1]}")
        time.sleep(0.05)
    return proc, ready.read_text().strip()


def run_clinvk(
    args: list[str],
    env: dict[str, str],
    *,
    input: str | None = None,
    timeout: float = 60.0,
    cwd: Path | None = None,
) -> Completed:
    """Run ``clinvk ARGS`` as a real subprocess (see :func:`run_process`)."""
    if cwd is None and isinstance(env, CliEnv):
        cwd = env.workdir
    return run_process(
        [str(clinvk_executable()), *args], env, cwd=cwd, input=input, timeout=timeout
    )


CliEnvFactory = Callable[..., CliEnv]
"""Type of the ``cli_env`` fixture: ``cli_env(backend="all", mode="ok", *, tag=None)``."""

ClinvkRunner = Callable[..., Completed]
"""Type of the ``clinvk`` fixture: ``clinvk(args, env, *, input=None, timeout=60, cwd=None)``."""
