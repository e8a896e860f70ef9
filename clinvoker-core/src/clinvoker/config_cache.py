"""A parsed copy of the config file, so most ``clinvk`` runs skip loading the YAML parser.

Importing PyYAML costs more than the rest of clinvoker's start-up, so the file's parsed content
is kept in ``<home>/cache/config.msgpack`` (mode 0600: it may hold API keys), keyed by the
file's path, inode, size and modification time. A file changed in the last two seconds is not
cached (a second change within the file system's clock tick could otherwise go unnoticed);
anything that goes wrong with the cache just means parsing the YAML again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["load_cached"]

_SETTLE_NS = 2_000_000_000


class _Entry(msgspec.Struct, array_like=True):
    path: str
    key: tuple[int, int, int]
    data: dict[str, Any]


_decoder = msgspec.msgpack.Decoder(_Entry)
_encoder = msgspec.msgpack.Encoder()


def load_cached(
    path: Path, cache_file: Path, parse: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    """``parse(path)``, or its cached result when ``path`` has not changed since."""
    try:
        st = os.stat(path)
    except OSError:
        return parse(path)  # let the parser report it
    where = os.path.abspath(path)
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    try:
        entry = _decoder.decode(cache_file.read_bytes())
    except (OSError, msgspec.DecodeError):
        entry = None
    if entry is not None and entry.path == where and entry.key == key:
        return entry.data
    data = parse(path)
    if st.st_mtime_ns < time.time_ns() - _SETTLE_NS:
        _store(cache_file, _Entry(where, key, data))
    return data


def _private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parents with mode 0700."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def _store(cache_file: Path, entry: _Entry) -> None:
    try:
        blob = _encoder.encode(entry)
        if _decoder.decode(blob) != entry:
            return  # YAML gave something msgpack cannot carry exactly (dates...): do not cache
    except (TypeError, msgspec.DecodeError):
        return
    tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
    try:
        _private_dirs(cache_file.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, cache_file)
    except OSError:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
