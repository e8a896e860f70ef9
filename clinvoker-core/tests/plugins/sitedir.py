"""Install the test plugins the way pip does: package files plus a ``*.dist-info`` directory
with ``entry_points.txt``, in a directory that is then put on ``sys.path`` (a site directory)."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).parent


def install_plugin(
    site: Path, dist: str, entry_points: Mapping[str, str], packages: Sequence[str] = ()
) -> Path:
    """Copy ``packages`` (from this directory) into ``site`` and write their dist-info.

    :param dist: the distribution name (``clinvk-test-good``).
    :param entry_points: entry-point name -> object reference in the ``clinvoker`` group.
    :returns: the dist-info directory.
    """
    for package in packages:
        shutil.copytree(
            HERE / package, site / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[clinvoker]\n{lines}")
    (info / "RECORD").write_text("")
    importlib.invalidate_caches()
    return info
