"""``clinvk --help`` from a cache, without importing click or any plugin.

Rendering the root help needs click, pluggy and every plugin that adds a command; together they
cost several times a bare interpreter start. The text only changes when the code or the set of
installed distributions changes, so the first ``clinvk --help`` (also ``-h`` and a bare
``clinvk help``) renders it with click and stores it in ``<clinvk home>/cache/help-<width>.txt``
(mode 0600) with a fingerprint of everything the text depends on:

* the clinvoker version, the Python version and executable, ``CLINVK_DISABLE_PLUGINS``;
* the terminal width click would use (``COLUMNS``, else the terminal of stdout, else 80);
* every ``sys.path`` entry and its mtime (installing or removing a distribution changes the
  directory holding its ``.dist-info``);
* every non-standard-library module loaded while rendering (clinvoker, click, the plugins…)
  with its mtime and size, so editing an editable install is seen too.

Later calls print the stored text when the whole fingerprint still matches; any doubt (no cache,
unreadable, mismatch) falls back to click, which rewrites it. ``CLINVK_NO_HELP_CACHE`` (any
non-empty value) neither reads nor writes the cache. Only ``os`` and ``sys`` are imported here.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not from typing: this module is on the fast path of `clinvk --help`
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["HELP_ARGS", "cache_file", "cached_help", "help_cache_enabled", "render_help"]

HELP_ARGS = (["--help"], ["-h"], ["help"])
"""Argument lists answered from the cache (they all print the root help)."""

_MAGIC = "clinvk-help-cache 1"
_END = "--"


def help_cache_enabled() -> bool:
    """False when ``CLINVK_NO_HELP_CACHE`` is set to a non-empty value."""
    return not os.environ.get("CLINVK_NO_HELP_CACHE", "").strip()


def _columns() -> int:
    """The terminal width :func:`shutil.get_terminal_size` reports (the one click formats for)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


def _cache_dir() -> str | None:
    """``<clinvk home>/cache`` computed with ``os`` only (see :func:`clinvoker.paths.clinvk_home`)."""
    env = os.environ
    user = env.get("HOME", "").strip() or os.path.expanduser("~")
    explicit = env.get("CLINVK_HOME", "").strip()
    if explicit:
        if explicit == "~" or explicit.startswith("~/"):
            base = os.path.join(user, explicit[2:])
        else:
            base = os.path.expanduser(explicit)
    elif os.path.isdir(os.path.join(user, ".clinvk")):
        base = os.path.join(user, ".clinvk")
    elif sys.platform.startswith("linux"):
        data = env.get("XDG_DATA_HOME", "").strip() or os.path.join(user, ".local", "share")
        base = os.path.join(data, "clinvk")
    else:  # the platform data directory needs platformdirs: no cache there
        return None
    return os.path.join(base, "cache")


def cache_file() -> str | None:
    """The cache file for the current terminal width, or None where there is no cache."""
    folder = _cache_dir()
    return None if folder is None else os.path.join(folder, f"help-{_columns()}.txt")


def _key() -> str:
    from clinvoker import __version__

    disabled = os.environ.get("CLINVK_DISABLE_PLUGINS", "")
    return repr((__version__, sys.version, sys.executable, _columns(), disabled))


def _stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_mtime_ns}:{st.st_size}"


def _path_lines() -> list[str]:
    return [f"{_stamp(entry or '.')}\t{entry}" for entry in sys.path]


def cached_help() -> str | None:
    """The cached root help when its fingerprint matches this process, else None."""
    path = cache_file()
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            data = fh.read()
    except (OSError, ValueError):
        return None
    lines = data.split("\n")
    paths = _path_lines()
    start = 2 + len(paths)
    if (
        lines[:2] != [_MAGIC, _key()]
        or lines[2:start] != paths
        or lines[start : start + 1] != [_END]
    ):
        return None
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line == _END:
            return "\n".join(lines[index + 1 :])
        stamp, _, module = line.partition("\t")
        if _stamp(module) != stamp:
            return None
    return None


def _module_files() -> list[str]:
    """Files of the loaded modules outside the standard library (what the help text comes from)."""
    stdlib = os.path.dirname(os.__file__) + os.sep
    found: set[str] = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and not path.startswith(stdlib) and os.path.isabs(path):
            found.add(path)
    return sorted(found)


def _store(text: str) -> None:
    path = cache_file()
    if path is None:
        return
    files = _module_files()
    if any("\n" in f or "\t" in f for f in [*files, *sys.path]):
        return
    paths = _path_lines()
    lines = [_MAGIC, _key(), *paths, _END, *(f"{_stamp(f)}\t{f}" for f in files), _END, text]
    folder = os.path.dirname(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(lines))
        os.replace(tmp, path)
    except OSError:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)


def render_help(args: Sequence[str]) -> int:
    """Run ``clinvk <args>`` with click and, if it printed only the help, cache that text.

    Output is captured and then written to the real streams unchanged; the cache is written only
    when the command succeeded and printed nothing on stderr (e.g. no plugin warning).
    """
    import io

    from clinvoker.cli.app import cli

    real_out, real_err = sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(list(args), prog_name="clinvk", standalone_mode=False)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    text, errors = out.getvalue(), err.getvalue()
    real_out.write(text)
    real_out.flush()
    if errors:
        real_err.write(errors)
        real_err.flush()
    if code == 0 and text and not errors:
        _store(text)
    return int(code)
