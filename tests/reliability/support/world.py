"""An isolated world for one test: clinvk home, work dir, and the faulty CLIs on ``PATH``.

::

    world = World(tmp_path)
    rc, out, err = world.clinvk("-b", "claude", "--new", "hi FAULT:crash")
    call = world.call_with("hi FAULT:crash")      # what the fake CLI recorded
    world.assert_gone(call)                       # it, its grandchild and its group are gone

``World.env`` is built from scratch (nothing of the caller's ``CLINVK_*`` or provider keys leaks
in); the fake ``claude``, ``codex`` and ``gemini`` shadow any real ones.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.clis import Completed, clinvk_executable, run_process

from reliability.support.procs import alive, group_members

__all__ = ["FAULTY_CLI", "World", "install_faulty_clis"]

FAULTY_CLI = Path(__file__).with_name("faulty_cli.py")
DIALECTS = ("claude", "codex", "gemini")


def install_faulty_clis(bin_dir: Path) -> None:
    """Write ``claude``, ``codex`` and ``gemini`` shims running :mod:`faulty_cli` into ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in DIALECTS:
        exe = bin_dir / name
        exe.write_text(
            f'#!/bin/sh\nFAULTY_DIALECT={name} exec "{sys.executable}" "{FAULTY_CLI}" "$@"\n',
            encoding="utf-8",
        )
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class World:
    """Directories and environment of one isolated clinvk user."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.home = root / "clinvk-home"
        self.workdir = root / "work"
        self.calls_dir = root / "calls"
        self.user_home = root / "user-home"
        for d in (self.home, self.workdir, self.calls_dir, self.user_home):
            d.mkdir(parents=True, exist_ok=True)
        install_faulty_clis(self.bin)
        self.env: dict[str, str] = {
            "PATH": os.pathsep.join([str(self.bin), os.environ.get("PATH", "")]),
            "HOME": str(self.user_home),
            "TMPDIR": str(root),
            "LANG": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost",
            "CLINVK_HOME": str(self.home),
            "FAULTY_LOG_DIR": str(self.calls_dir),
        }

    @property
    def sessions_dir(self) -> Path:
        """Where the file session store keeps its JSON files."""
        return self.home / "sessions"

    def write_config(self, text: str) -> Path:
        """Write ``<home>/config.yaml`` (the file every clinvk process of this world reads)."""
        path = self.home / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def clinvk(
        self,
        *args: str,
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
        wrap: Callable[[list[str]], list[str]] | None = None,
    ) -> Completed:
        """Run ``clinvk ARGS`` in the work dir as a real subprocess.

        :param wrap: turns the argv into the one to run (e.g. inside a mount namespace).
        """
        argv = [str(clinvk_executable()), *args]
        return run_process(
            wrap(argv) if wrap is not None else argv,
            {**self.env, **(env or {})},
            cwd=self.workdir,
            timeout=timeout,
        )

    def popen_clinvk(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``clinvk ARGS`` (its own process group, output discarded) without waiting."""
        return subprocess.Popen(
            [str(clinvk_executable()), *args],
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def calls(self) -> list[dict[str, Any]]:
        """Every start of a fake CLI, as it recorded itself."""
        out = []
        for path in self.calls_dir.glob("*.json"):
            out.append(json.loads(path.read_text(encoding="utf-8")))
        return out

    def call_with(self, token: str) -> dict[str, Any]:
        """The one recorded start whose prompt contains ``token``."""
        found = [c for c in self.calls() if token in c["prompt"]]
        assert len(found) == 1, f"expected one CLI start with {token!r}, got {len(found)}"
        return found[0]

    @staticmethod
    def leftovers(call: dict[str, Any]) -> list[int]:
        """Processes of that start still running: the CLI, its grandchild, its group."""
        pids = {call["pid"], *group_members(call["pgid"])}
        if call.get("grandchild"):
            pids.add(call["grandchild"])
        return sorted(p for p in pids if alive(p))

    def assert_gone(self, call: dict[str, Any]) -> None:
        """Nothing that start spawned is still running."""
        left = self.leftovers(call)
        assert not left, f"processes left running after the {call['fault']!r} run: {left}"
