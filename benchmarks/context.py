"""What every benchmark gets: how hard to try, a scratch directory, clean environments."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

__all__ = ["ROOT", "Context", "test_support"]

ROOT = Path(__file__).resolve().parent.parent
"""The repository root."""


def test_support(module: str) -> ModuleType:
    """``tests/support/<module>.py`` (fake model API, CLI environments), imported as ``support.*``."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module(f"support.{module}")


@dataclass
class Context:
    """Settings and scratch space shared by the benchmarks of one run.

    ``rounds`` is how many rounds each figure gets; ``scale`` (0 < scale <= 1, from ``--quick``)
    shrinks sample counts and sizes for a fast smoke run.
    """

    scratch: Path
    rounds: int = 7
    scale: float = 1.0

    def scaled(self, count: int, minimum: int = 1) -> int:
        """``count`` shrunk by ``scale`` (never below ``minimum``)."""
        return max(minimum, round(count * self.scale))

    def dir(self, name: str) -> Path:
        """A fresh-or-existing directory under the scratch space."""
        path = self.scratch / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def clean_env(self, name: str) -> dict[str, str]:
        """An environment with only ``PATH`` and ``LANG`` of ours, and its own empty homes."""
        home = self.dir(f"{name}/home")
        clinvk_home = self.dir(f"{name}/clinvk-home")
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "CLINVK_HOME": str(clinvk_home),
            "TMPDIR": str(self.dir(f"{name}/tmp")),
        }
