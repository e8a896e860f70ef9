"""Version, commit and build date of the installed clinvoker (for ``clinvk version``).

The commit comes from the git checkout of an editable install, else from the installer's record
when clinvoker was installed from a git URL (``direct_url.json``); the build date is when
the distribution was installed. Unknown values print as ``none`` / ``unknown`` like the Go tool.
Only the standard library is used (no ``importlib.metadata``), so ``clinvk version`` stays fast.
"""

from __future__ import annotations

import os
import sys
import time

# Only ``os``/``sys``/``time`` at import: dataclasses, pathlib, json and datetime would triple the
# start-up cost of ``clinvk version`` (see benchmarks/RESULTS.md).

__all__ = ["BuildInfo", "build_info", "version_text"]

_DIST_PREFIX = "clinvoker_core-"


class BuildInfo:
    """What ``clinvk version`` prints."""

    __slots__ = ("built", "commit", "version")

    def __init__(self, version: str, commit: str = "none", built: str = "unknown") -> None:
        self.version = version
        self.commit = commit
        self.built = built

    def __repr__(self) -> str:
        return f"BuildInfo(version={self.version!r}, commit={self.commit!r}, built={self.built!r})"


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
    commit = _commit_from_checkout(dist) or _commit_from_direct_url(dist) or "none"
    return BuildInfo(version=__version__, commit=commit, built=_install_time(dist) or "unknown")


def _dist_info() -> str | None:
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.startswith(_DIST_PREFIX) and name.endswith(".dist-info"):
                return os.path.join(folder, name)
    return None


def _read_json(path: str) -> dict[str, object]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return {}
    import json  # only when the file exists (installs from a URL)

    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _install_time(dist: str) -> str | None:
    try:
        stamp = os.stat(os.path.join(dist, "METADATA")).st_mtime
    except OSError:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _commit_from_direct_url(dist: str) -> str | None:
    """For an install from a VCS URL: the commit the installer recorded."""
    data = _read_json(os.path.join(dist, "direct_url.json"))
    vcs = data.get("vcs_info")
    commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
    return commit[:12] if isinstance(commit, str) and commit else None


def _commit_from_checkout(dist: str) -> str | None:
    """For an editable install: ``HEAD`` of the git checkout holding the code (no subprocess).

    An install is editable when the package does not live next to its ``.dist-info``.
    """
    import clinvoker

    folder = os.path.dirname(os.path.abspath(clinvoker.__file__))
    if folder.startswith(os.path.dirname(os.path.abspath(dist)) + os.sep):
        return None
    while True:
        git = os.path.join(folder, ".git")
        if os.path.isdir(git):
            return _read_head(git)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _read_text(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _read_head(git: str) -> str | None:
    try:
        head = _read_text(os.path.join(git, "HEAD")).strip()
        if not head.startswith("ref: "):
            return head[:12] or None
        ref = head[5:]
        if os.path.exists(os.path.join(git, ref)):
            return _read_text(os.path.join(git, ref)).strip()[:12]
        packed = os.path.join(git, "packed-refs")
        if os.path.exists(packed):
            for line in _read_text(packed).splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0][:12]
    except OSError:
        return None
    return None
