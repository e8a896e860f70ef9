"""A self-checking cache of session summaries, so listing thousands of sessions stays fast.

The cache (``<sessions>/.cache/summaries.msgpack``) holds a :class:`Summary` of every session (the fields
used to filter and sort) and, per file, its inode, size and modification time. It is never
trusted blindly:

* If the directory has not changed since the cache was written (same inode and modification
  time) and had been quiet for a while before that scan began, the cache is used as is. (Every
  write in the store renames a file into the directory, which changes its modification time;
  the quiet period rules out a change landing in the same clock tick as the scan.)
* Otherwise every file is stat'ed and only files whose inode, size or time changed are re-read.

Writers never touch the cache; any process may rewrite it (atomically); a missing or corrupt
cache is rebuilt from the files.
"""

from __future__ import annotations

import operator
import os
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from clinvoker.sessions import Session, StoreProblem, is_session_id

__all__ = [
    "INDEX_DIR",
    "INDEX_NAME",
    "NEWEST_FIRST",
    "Scan",
    "Summary",
    "SummaryCache",
    "decode_session",
    "read_file",
    "summarize",
    "timestamp",
]

INDEX_DIR = ".cache"
"""Holds the cache file: writing inside a subdirectory leaves the session directory's time alone."""
INDEX_NAME = "summaries.msgpack"
_INDEX_VERSION = 2
_QUIET_NS = 2_000_000_000
_FOREIGN_OK = frozenset({"index.json"})  # the Go tool's own index, kept next to our files

NEWEST_FIRST = operator.attrgetter("last_used", "id")
"""Sort key of summaries (use with ``reverse=True``)."""

FileKey = tuple[int, int, int]
"""Identifies one version of a file: (inode, size, modification time in nanoseconds)."""


class Summary(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """What listing needs to know about one session without reading its file.

    Kept newest first (``last_used``, then ``id``, descending) in scans and in the cache.
    """

    id: str
    backend: str
    status: str
    last_used: float
    working_dir: str
    owner: str | None
    model: str | None
    tags: tuple[str, ...]
    resumable: bool


class _Head(msgspec.Struct):
    """The part of the cache file the fast path needs (decoding skips ``files``)."""

    version: int
    dir_key: tuple[int, int]
    """(inode, modification time in ns) of the directory when the scan began."""
    quiet: bool
    """Whether the directory had not changed for a while when the scan began."""
    summaries: list[Summary]
    problems: list[StoreProblem]


class _Snapshot(_Head):
    files: dict[str, FileKey] = {}
    """File name -> key, for every session file (readable or not)."""


class Scan(msgspec.Struct, frozen=True):
    """The result of one scan: summaries of readable sessions and the skipped files."""

    summaries: list[Summary]
    problems: list[StoreProblem]


_session_decoder = msgspec.json.Decoder(Session)
_head_decoder = msgspec.msgpack.Decoder(_Head)
_snapshot_decoder = msgspec.msgpack.Decoder(_Snapshot)
_index_encoder = msgspec.msgpack.Encoder()


def timestamp(value: datetime) -> float:
    """Seconds since the epoch; a naive datetime (foreign files) is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def decode_session(data: bytes, name: str) -> Session:
    """Decode one session file; ``ValueError`` (one line) if it is not a session of that name."""
    try:
        session = _session_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a valid session file ({exc})") from None
    if session.id != name.removesuffix(".json"):
        raise ValueError(f"its id {session.id!r} does not match the file name")
    return session


def summarize(session: Session) -> Summary:
    """The listing summary of a session."""
    return Summary(
        id=session.id,
        backend=session.backend,
        status=session.status,
        last_used=timestamp(session.last_used),
        working_dir=session.working_dir,
        owner=session.owner,
        model=session.model,
        tags=tuple(session.tags),
        resumable=session.resumable,
    )


def read_file(path: str, size_hint: int = 0) -> bytes:
    """A whole file, with as few system calls as possible (listing reads thousands)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        chunks = [os.read(fd, max(size_hint, 4096) + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    return b"".join(chunks)


def _read_summary(path: str, name: str, size_hint: int) -> Summary | str:
    """The file's summary, or why it cannot be read (one line)."""
    try:
        return summarize(decode_session(read_file(path, size_hint), name))
    except OSError as exc:
        return exc.strerror or str(exc)
    except ValueError as exc:
        return str(exc)


class SummaryCache:
    """Summaries of one sessions directory, checked against the files on every :meth:`scan`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._snapshot: _Snapshot | None = None
        self._fresh: tuple[tuple[int, int], Scan] | None = None

    def scan(self) -> Scan:
        """All summaries and problems, re-reading only what changed since the last scan."""
        try:
            st = os.stat(self.root)
        except FileNotFoundError:
            self._snapshot = self._fresh = None
            return Scan([], [])
        dir_key = (st.st_ino, st.st_mtime_ns)
        if self._fresh is not None and self._fresh[0] == dir_key:
            return self._fresh[1]
        data = None
        if self._snapshot is None:
            data = self._read_cache()
            head = _decode_head(data)
            if head is not None and head.quiet and head.dir_key == dir_key:
                return self._remember(dir_key, Scan(head.summaries, head.problems))
        old = self._snapshot or _decode_snapshot(data)
        quiet = st.st_mtime_ns < time.time_ns() - _QUIET_NS
        new, reread = self._rescan(old, dir_key, quiet)
        self._snapshot = new
        if old is None or reread or (old.dir_key, old.quiet) != (dir_key, quiet):
            self._save(new)
        scan = Scan(new.summaries, new.problems)
        if quiet:
            self._remember(dir_key, scan)
        else:
            self._fresh = None
        return scan

    def _remember(self, dir_key: tuple[int, int], scan: Scan) -> Scan:
        self._fresh = (dir_key, scan)
        return scan

    def _rescan(
        self, old: _Snapshot | None, dir_key: tuple[int, int], quiet: bool
    ) -> tuple[_Snapshot, bool]:
        """A new snapshot, and whether any file had to be read (or vanished)."""
        old_files = old.files if old is not None else {}
        old_summaries = {s.id: s for s in old.summaries} if old is not None else {}
        old_problems = {p.file: p.reason for p in old.problems} if old is not None else {}
        files: dict[str, FileKey] = {}
        reread = False
        summaries: list[Summary] = []
        problems: list[StoreProblem] = []
        with os.scandir(self.root) as listing:
            for item in listing:
                name = item.name
                if name.startswith(".") or not name.endswith(".json") or name in _FOREIGN_OK:
                    continue
                if not is_session_id(name[:-5]):
                    problems.append(StoreProblem(name, "not a session file name (<hex id>.json)"))
                    continue
                try:
                    st = item.stat()
                except OSError:
                    continue  # deleted while we looked
                key = (st.st_ino, st.st_size, st.st_mtime_ns)
                found: Summary | str | None = None
                if old_files.get(name) == key:
                    found = old_summaries.get(name[:-5]) or old_problems.get(name)
                if found is None:
                    found = _read_summary(item.path, name, st.st_size)
                    reread = True
                files[name] = key
                if isinstance(found, str):
                    problems.append(StoreProblem(name, found))
                else:
                    summaries.append(found)
        problems.sort(key=lambda p: p.file)
        summaries.sort(key=NEWEST_FIRST, reverse=True)
        reread = reread or len(files) != len(old_files)
        return _Snapshot(_INDEX_VERSION, dir_key, quiet, summaries, problems, files), reread

    def _read_cache(self) -> bytes | None:
        try:
            return (self.root / INDEX_DIR / INDEX_NAME).read_bytes()
        except OSError:
            return None

    def _save(self, snapshot: _Snapshot) -> None:
        folder = self.root / INDEX_DIR
        tmp = folder / f"{INDEX_NAME}.{os.getpid()}.tmp"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            tmp.write_bytes(_index_encoder.encode(snapshot))
            os.replace(tmp, folder / INDEX_NAME)
        except OSError:  # only a cache: a read-only store still lists, just slower
            with suppress(OSError):
                tmp.unlink(missing_ok=True)


def _decode_head(data: bytes | None) -> _Head | None:
    try:
        head = _head_decoder.decode(data) if data else None
    except msgspec.DecodeError:
        return None
    return head if head is not None and head.version == _INDEX_VERSION else None


def _decode_snapshot(data: bytes | None) -> _Snapshot | None:
    try:
        snapshot = _snapshot_decoder.decode(data) if data else None
    except msgspec.DecodeError:
        return None
    return snapshot if snapshot is not None and snapshot.version == _INDEX_VERSION else None
