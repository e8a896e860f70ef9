"""A self-checking cache of session summaries, so listing thousands of sessions stays fast.

The cache (``<sessions>/.index``, msgpack) maps each session file to a :class:`Summary` of the
fields used to filter and sort, keyed by the file's inode, size and modification time. A scan
stats every file and re-reads only files whose key changed, so the cache is never trusted
blindly: writers never touch it, any process may rewrite it, and a missing or corrupt cache is
rebuilt from the files.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from clinvoker.sessions import Session, StoreProblem, is_session_id

__all__ = [
    "INDEX_NAME",
    "FileKey",
    "Scan",
    "Summary",
    "SummaryCache",
    "decode_session",
    "summarize",
    "timestamp",
]

INDEX_NAME = ".index"
_INDEX_VERSION = 1
_FOREIGN_OK = frozenset({"index.json"})  # the Go tool's own index, kept next to our files


class Summary(msgspec.Struct, frozen=True, array_like=True):
    """What listing needs to know about one session without reading its file."""

    id: str
    backend: str
    status: str
    last_used: float
    working_dir: str
    owner: str | None
    model: str | None
    tags: tuple[str, ...]
    resumable: bool


class FileKey(msgspec.Struct, frozen=True, array_like=True):
    """Identifies one version of a file: inode, size and modification time in nanoseconds."""

    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileKey:
        return cls(st.st_ino, st.st_size, st.st_mtime_ns)


class _Entry(msgspec.Struct, frozen=True, array_like=True):
    key: FileKey
    summary: Summary | None
    problem: str | None


class _IndexFile(msgspec.Struct):
    version: int
    entries: dict[str, _Entry]


class Scan(msgspec.Struct, frozen=True):
    """The result of one scan: summaries of readable sessions and the skipped files."""

    summaries: list[Summary]
    problems: list[StoreProblem]


_session_decoder = msgspec.json.Decoder(Session)
_index_decoder = msgspec.msgpack.Decoder(_IndexFile)
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


def _read_entry(path: Path, key: FileKey) -> _Entry:
    try:
        session = decode_session(path.read_bytes(), path.name)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _Entry(key, None, reason)
    return _Entry(key, summarize(session), None)


class SummaryCache:
    """Summaries of one sessions directory, refreshed against the files on every :meth:`scan`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._entries: dict[str, _Entry] | None = None

    def _load(self) -> dict[str, _Entry]:
        if self._entries is not None:
            return self._entries
        try:
            index = _index_decoder.decode((self.root / INDEX_NAME).read_bytes())
        except (OSError, msgspec.DecodeError):
            return {}
        return index.entries if index.version == _INDEX_VERSION else {}

    def _save(self, entries: dict[str, _Entry]) -> None:
        tmp = self.root / f".index-{os.getpid()}.tmp"
        try:
            tmp.write_bytes(_index_encoder.encode(_IndexFile(_INDEX_VERSION, entries)))
            os.replace(tmp, self.root / INDEX_NAME)
        except OSError:  # only a cache: a read-only store still lists, just slower
            tmp.unlink(missing_ok=True)

    def scan(self) -> Scan:
        """Stat every session file, re-read the changed ones, and return all summaries."""
        old = self._load()
        entries: dict[str, _Entry] = {}
        problems: list[StoreProblem] = []
        changed = False
        try:
            listing = os.scandir(self.root)
        except FileNotFoundError:
            self._entries = {}
            return Scan([], [])
        with listing:
            for item in listing:
                name = item.name
                if name.startswith(".") or not name.endswith(".json") or name in _FOREIGN_OK:
                    continue
                if not is_session_id(name[:-5]):
                    problems.append(StoreProblem(name, "not a session file name (<hex id>.json)"))
                    continue
                try:
                    key = FileKey.of(item.stat())
                except OSError:
                    continue  # deleted while we looked
                entry = old.get(name)
                if entry is None or entry.key != key:
                    entry = _read_entry(Path(item.path), key)
                    changed = True
                entries[name] = entry
        changed = changed or len(entries) != len(old)
        self._entries = entries
        if changed:
            self._save(entries)
        summaries = []
        for name, entry in entries.items():
            if entry.summary is not None:
                summaries.append(entry.summary)
            else:
                problems.append(StoreProblem(name, entry.problem or "unreadable"))
        problems.sort(key=lambda p: p.file)
        return Scan(summaries, problems)
