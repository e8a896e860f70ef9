"""Fixtures for the cross-package suites (``tests/e2e``, ``tests/cli``, ``tests/server``, ...).

* ``fake_api`` — the session's :class:`~support.fake_model_api.FakeModelAPI` on 127.0.0.1.
  ``fake_api.base_url("429")`` points a CLI at it in a mode; ``fake_api.log()`` /
  ``fake_api.model_calls()`` show what it received. Its log and counters are reset before
  each test that uses it, so a test only sees its own requests.
* ``cli_bin`` — the directory of the real ``claude``/``codex``/``gemini`` (from
  ``$CLINVK_TEST_CLIS_BIN``, else ``PATH``). Tests marked ``realcli`` are skipped, with the
  install instructions as reason, only when no CLI can be found at all.
* ``cli_env(backend, mode="ok")`` — an isolated environment for one CLI (or ``"all"``) talking to
  ``fake_api``: a :class:`~support.clis.CliEnv` (a ``dict``) with ``.home``, ``.workdir``...
  Calling it again in the same test keeps the CLI's state and only changes the mode.
* ``clinvk(args, env, input=None, timeout=60)`` — runs the ``clinvk`` console script of this
  virtualenv as a real subprocess; returns ``(rc, stdout, stderr)``.
* ``use_env(env)`` — makes ``env`` the process environment for in-process library calls
  (``clinvoker.api.run``), restoring the original afterwards.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.clis import (
    CLI_NAMES,
    CliEnv,
    CliEnvFactory,
    ClinvkRunner,
    build_cli_env,
    find_cli_bin,
    install_hint,
    run_clinvk,
)
from support.fake_model_api import FakeModelAPI

_find_cli_bin = functools.cache(find_cli_bin)
_KEEP_ENV_PREFIXES = ("PYTEST_", "COV_CORE_", "COVERAGE_")
"""Variables ``use_env`` leaves alone: pytest's own and coverage's subprocess hooks."""


def pytest_report_header() -> str:
    """Say which real CLIs the run uses (or why ``realcli`` tests will be skipped)."""
    try:
        found = _find_cli_bin()
    except FileNotFoundError as exc:
        return f"real CLIs: {exc}"
    return f"real CLIs: {found}" if found else f"real CLIs: not found ({install_hint()})"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip ``realcli`` tests when the real CLIs are nowhere to be found."""
    if item.get_closest_marker("realcli") is not None and _find_cli_bin() is None:
        pytest.skip(f"real CLIs not found: {install_hint()}")


@pytest.fixture(scope="session")
def fake_api_server() -> Iterator[FakeModelAPI]:
    """The fake model API, started once per session (use ``fake_api`` in tests)."""
    with FakeModelAPI() as api:
        yield api


@pytest.fixture
def fake_api(fake_api_server: FakeModelAPI) -> FakeModelAPI:
    """The session's fake model API, with an empty log and default mode ``ok``."""
    fake_api_server.reset()
    fake_api_server.set_mode("ok")
    return fake_api_server


@pytest.fixture(scope="session")
def cli_bin() -> Path:
    """Directory holding the real CLIs (skips the test when there is none)."""
    found = _find_cli_bin()
    if found is None:
        pytest.skip(f"real CLIs not found: {install_hint()}")
    return found


@pytest.fixture
def cli_env(
    tmp_path: Path, fake_api: FakeModelAPI, request: pytest.FixtureRequest
) -> CliEnvFactory:
    """``cli_env(backend, mode="ok", *, tag=None)`` → environment pointing ``backend`` at the fake.

    Each backend gets its own dirs under ``tmp_path/<backend>``. In a ``realcli`` test, asking for a
    CLI that is not installed skips the test.
    """

    def make(backend: str = "all", mode: str = "ok", *, tag: str | None = None) -> CliEnv:
        bin_dir = _find_cli_bin()
        env = build_cli_env(
            tmp_path / backend,
            backend=backend,
            base_url=fake_api.base_url(mode, tag=tag),
            bin_dir=bin_dir,
        )
        realcli = request.node.get_closest_marker("realcli") is not None
        if realcli and backend in CLI_NAMES and not shutil.which(backend, path=env["PATH"]):
            pytest.skip(f"{backend} not found: {install_hint()}")
        return env

    return make


@pytest.fixture
def clinvk() -> ClinvkRunner:
    """``clinvk(args, env, input=None, timeout=60, cwd=None)`` → ``(rc, stdout, stderr)``."""
    return run_clinvk


@pytest.fixture
def use_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """``use_env(env)``: replace the whole process environment with ``env`` for this test."""

    def apply(env: dict[str, str]) -> None:
        for name in list(os.environ):
            if name not in env and not name.startswith(_KEEP_ENV_PREFIXES):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply
