"""Version, commit and build date of the installed clinvoker (for ``clinvk version``).

The commit comes from the installer's record when clinvoker was installed from a git URL
(``direct_url.json``), else from ``git`` metadata of an editable checkout; the build date is the
install time of the distribution. Unknown values print as ``none`` / ``unknown`` like the Go tool.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

__all__ = ["BuildInfo", "build_info"]

DIST = "clinvoker-core"


@dataclasses.dataclass(frozen=True)
class BuildInfo:
    version: str
    commit: str = "none"
    built: str = "unknown"


def build_info() -> BuildInfo:
    """What ``clinvk version`` prints."""
    from clinvoker import __version__

    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        return BuildInfo(version=__version__)
    commit = _commit_from_direct_url(dist.read_text("direct_url.json")) or "none"
    built = _install_time(dist) or "unknown"
    if commit == "none":
        commit = _commit_from_checkout(dist.read_text("direct_url.json")) or "none"
    return BuildInfo(version=dist.version or __version__, commit=commit, built=built)


def _install_time(dist: metadata.Distribution) -> str | None:
    """When the distribution was installed: the modification time of its ``METADATA``."""
    for file in dist.files or ():
        if file.name == "METADATA":
            path = Path(str(file.locate()))
            try:
                stamp = path.stat().st_mtime
            except OSError:
                return None
            return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _commit_from_direct_url(text: str | None) -> str | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    vcs = data.get("vcs_info") if isinstance(data, dict) else None
    commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
    return commit[:12] if isinstance(commit, str) and commit else None


def _commit_from_checkout(text: str | None) -> str | None:
    """For an editable install: read ``HEAD`` of the git checkout it points to (no subprocess)."""
    if not text:
        return None
    try:
        url = json.loads(text).get("url", "")
    except (ValueError, AttributeError):
        return None
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
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = git / ref
            if ref_file.exists():
                return ref_file.read_text().strip()[:12]
            packed = git / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0][:12]
            return None
        return head[:12] or None
    except OSError:
        return None
