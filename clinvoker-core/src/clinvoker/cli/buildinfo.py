"""Version, commit and build date of the installed clinvoker (for ``clinvk version``).

The commit comes from the installer's record when clinvoker was installed from a git URL
(``direct_url.json``), else from the git checkout of an editable install; the build date is when
the distribution was installed. Unknown values print as ``none`` / ``unknown`` like the Go tool.
Only the standard library is used (no ``importlib.metadata``), so ``clinvk version`` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["BuildInfo", "build_info", "version_text"]

_DIST_PREFIX = "clinvoker_core-"


@dataclasses.dataclass(frozen=True)
class BuildInfo:
    """What ``clinvk version`` prints."""

    version: str
    commit: str = "none"
    built: str = "unknown"


def version_text() -> str:
    """The three lines of ``clinvk version`` (Go layout)."""
    info = build_info()
    return f"clinvk {info.version}\n  commit: {info.commit}\n  built:  {info.built}\n"


def build_info() -> BuildInfo:
    """Version, commit and install time of clinvoker-core."""
    from clinvoker import __version__

    dist = _dist_info()
    if dist is None:
        return BuildInfo(version=__version__)
    direct_url = _read_json(dist / "direct_url.json")
    commit = _commit_from_direct_url(direct_url) or _commit_from_checkout(direct_url) or "none"
    return BuildInfo(version=__version__, commit=commit, built=_install_time(dist) or "unknown")


def _dist_info() -> Path | None:
    for entry in sys.path:
        folder = Path(entry or ".")
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.startswith(_DIST_PREFIX) and name.endswith(".dist-info"):
                return folder / name
    return None


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _install_time(dist: Path) -> str | None:
    try:
        stamp = (dist / "METADATA").stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _commit_from_direct_url(data: dict[str, object]) -> str | None:
    vcs = data.get("vcs_info")
    commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
    return commit[:12] if isinstance(commit, str) and commit else None


def _commit_from_checkout(data: dict[str, object]) -> str | None:
    """For an editable install: read ``HEAD`` of the git checkout it points to (no subprocess)."""
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    start = Path(unquote(urlparse(url).path))
    for folder in (start, *start.parents):
        git = folder / ".git"
        if git.is_dir():
            return _read_head(git)
    return None


def _read_head(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12] or None
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()[:12]
        packed = git / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0][:12]
    except OSError:
        return None
    return None
