"""Every test, lint, type and benchmark session. ``nox`` runs them all (except ``bench``).

Each package session installs only that package and its own dependencies (from ``uv.lock``),
so a package that quietly depends on another one fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "core",
    "claude",
    "codex",
    "gemini",
    "server",
    "integration",
    "reliability",
    "lint",
    "types",
]

ROOT = Path(__file__).parent
PACKAGES = {
    "core": "clinvoker-core",
    "claude": "clinvoker-backend-claude",
    "codex": "clinvoker-backend-codex",
    "gemini": "clinvoker-backend-gemini",
    "server": "clinvoker-server",
}

# The real CLIs the end-to-end tests drive, pinned (their output formats drift between releases).
PINNED_CLIS = (
    "@anthropic-ai/claude-code@2.1.197",
    "@openai/codex@0.169.0",
    "@google/gemini-cli@0.61.0",
)
CLI_NAMES = ("claude", "codex", "gemini")


def _sync(session: nox.Session, *args: str) -> None:
    """Install from the lock file into the session's own virtualenv."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--no-default-groups",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location, "UV_PYTHON_DOWNLOADS": "never"},
    )


def _make_package_session(key: str, package: str) -> None:
    @nox.session(name=key)
    def _session(session: nox.Session) -> None:
        _sync(session, "--package", package, "--group", "test")
        session.run("python", "-m", "pytest", f"{package}/tests", *session.posargs)

    _session.__doc__ = f"Unit tests of {package}, with only it and its dependencies installed."


for _key, _package in PACKAGES.items():
    _make_package_session(_key, _package)


def ensure_clis(session: nox.Session) -> str:
    """The bin dir of the pinned real CLIs: ``$CLINVK_TEST_CLIS_BIN`` if set, else an npm cache.

    The cache (``$CLINVK_CLI_CACHE``, default ``~/.cache/clinvoker-test-clis``) holds one
    ``npm install --prefix`` per set of pinned versions, installed on first use.
    """
    preset = os.environ.get("CLINVK_TEST_CLIS_BIN")
    if preset:
        missing = [n for n in CLI_NAMES if not (Path(preset) / n).exists()]
        if missing:
            session.error(f"CLINVK_TEST_CLIS_BIN={preset} has no {', '.join(missing)}")
        return preset
    cache = Path(os.environ.get("CLINVK_CLI_CACHE", Path.home() / ".cache" / "clinvoker-test-clis"))
    tag = "-".join(p.rsplit("@", 1)[1] for p in PINNED_CLIS)
    prefix = cache / tag
    bin_dir = prefix / "node_modules" / ".bin"
    if not all((bin_dir / name).exists() for name in CLI_NAMES):
        if shutil.which("npm") is None:
            session.error(
                "npm is needed to install the real CLIs for the end-to-end tests (install Node.js 20+)"
            )
        prefix.mkdir(parents=True, exist_ok=True)
        session.run(
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
            str(prefix),
            *PINNED_CLIS,
            external=True,
        )
    return str(bin_dir)


def _isolated(argv: list[str]) -> list[str]:
    """Run argv in a fresh network namespace with only loopback, when we may (root + unshare).

    Nothing the tests start (the real CLIs included) can then reach anything but 127.0.0.1.
    ``CLINVK_TEST_NO_NETNS=1`` opts out.
    """
    if (
        os.environ.get("CLINVK_TEST_NO_NETNS")
        or shutil.which("unshare") is None
        or os.geteuid() != 0
    ):
        return argv
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return argv
    import shlex

    # `ip` may be missing: the fallback sets lo up with an ioctl (tests/support/netns.py).
    lo_up = shlex.join([argv[0], str(ROOT / "tests" / "support" / "netns.py")])
    script = f"{{ ip link set lo up || {lo_up}; }} 2>/dev/null; exec {shlex.join(argv)}"
    return ["unshare", "-n", "sh", "-c", script]


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests: plugin discovery, the CLI end to end, real CLIs, SDK clients."""
    _sync(session, "--all-packages", "--group", "test", "--group", "sdk")
    env = {"CLINVK_TEST_CLIS_BIN": ensure_clis(session)}
    python = str(Path(session.virtualenv.bin) / "python")
    session.run(
        *_isolated(
            [python, "-m", "pytest", "tests", "--ignore=tests/reliability", *session.posargs]
        ),
        env=env,
        external=True,
    )


@nox.session
def reliability(session: nox.Session) -> None:
    """The adversarial suite: faults, load, sessions under stress, shutdown, fuzzing, security."""
    _sync(session, "--all-packages", "--group", "test", "--group", "sdk")
    if not (ROOT / "tests" / "reliability").exists():
        session.skip("no reliability suite yet")
    env = {"CLINVK_TEST_CLIS_BIN": ensure_clis(session)}  # prompts reach the real CLIs verbatim
    python = str(Path(session.virtualenv.bin) / "python")
    session.run(
        *_isolated([python, "-m", "pytest", "tests/reliability", *session.posargs]),
        env=env,
        external=True,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    _sync(session, "--group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict over every package."""
    _sync(session, "--all-packages", "--group", "types", "--group", "test")
    session.run(
        "mypy",
        "clinvoker-core/src",
        "clinvoker-backend-claude/src",
        "clinvoker-backend-codex/src",
        "clinvoker-backend-gemini/src",
        "clinvoker-server/src",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of the pass/fail run): prints a markdown table of ratios.

    Writes the table to benchmarks/RESULTS.md. ``nox -s bench -- --only startup,sessions``
    picks suites; ``-- --quick`` is a smoke run (see ``python -m benchmarks --help``).
    """
    _sync(session, "--all-packages", "--group", "test", "--group", "bench")
    env = {"CLINVK_TEST_CLIS_BIN": ensure_clis(session)}
    python = str(Path(session.virtualenv.bin) / "python")
    session.run(*_isolated([python, "-m", "benchmarks", *session.posargs]), env=env, external=True)
