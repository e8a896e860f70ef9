"""The default session store: one JSON file per session in ``<home>/sessions``.

* ``<id>.json`` — one session, 2-space indented, mode 0600 (directory 0700). Every write goes to a
  temporary file in the same directory, is fsync'ed, then renamed over the old file, so a reader
  (or a crash, or a full disk) never sees a half-written session.
* ``.<id>.lock`` — held while a session is read-modified-written, so updates from any number of
  processes never lose each other's changes; one lock per session, so unrelated sessions never
  wait for each other (:mod:`clinvoker.session_locks`). Removed when released.
* ``.cache/`` — summaries for fast listing (:mod:`clinvoker.session_index`).
* ``<id>/`` — optional artifacts of a session, removed with it.

Files that are not sessions (corrupt, foreign) are skipped and reported in ``problems``.
"""

from __future__ import annotations

import builtins
import errno
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from clinvoker.errors import AmbiguousSession, SessionError, SessionNotFound, ValidationError
from clinvoker.session_index import (
    NEWEST_FIRST,
    Summary,
    SummaryCache,
    decode_session,
    read_file,
    timestamp,
)
from clinvoker.session_locks import hold, remove_if_unheld
from clinvoker.sessions import (
    Session,
    SessionStore,
    StoreProblem,
    is_session_id,
    session_filter,
)

__all__ = ["FileSessionStore"]

_encoder = msgspec.json.Encoder()
_HEX = frozenset("0123456789abcdef")
_LEFTOVER_AGE_S = 3600
_WHAT_TO_DO = {
    errno.ENOSPC: ("the disk is full", "Free some space (e.g. `clinvk sessions clean`) and retry."),
    errno.EDQUOT: ("the disk quota is exceeded", "Free some space and retry."),
    errno.EROFS: (
        "the file system is read-only",
        "Set CLINVK_HOME to a writable directory, or run with --ephemeral.",
    ),
    errno.EACCES: (
        "permission denied",
        "Fix the directory's permissions, or set CLINVK_HOME to a writable directory.",
    ),
    errno.EPERM: (
        "operation not permitted",
        "Fix the directory's permissions, or set CLINVK_HOME to a writable directory.",
    ),
}


class FileSessionStore(SessionStore):
    """Sessions as JSON files in one directory (default: :func:`clinvoker.paths.sessions_dir`)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is None:
            from clinvoker.paths import sessions_dir

            root = sessions_dir()
        self.root = Path(root)
        self.problems: builtins.list[StoreProblem] = []
        self._cache = SummaryCache(self.root)

    def __repr__(self) -> str:
        return f"FileSessionStore({str(self.root)!r})"

    # -- files ---------------------------------------------------------------------------------

    def _path(self, session_id: str) -> Path:
        return self.root / f"{session_id}.json"

    def _fail(self, doing: str, exc: OSError) -> SessionError:
        what, todo = _WHAT_TO_DO.get(
            exc.errno or 0, (exc.strerror or str(exc), "Check the session directory.")
        )
        return SessionError(f"cannot {doing} in {self.root}: {what}", hint=todo)

    def _ensure_root(self) -> None:
        if self.root.is_dir():
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
        except OSError as exc:
            raise self._fail("create the session directory", exc) from None

    def _read(self, session_id: str) -> Session:
        path = self._path(session_id)
        try:
            data = read_file(str(path))
        except FileNotFoundError:
            raise _not_found(session_id) from None
        except OSError as exc:
            raise self._fail(f"read session {session_id}", exc) from None
        try:
            return decode_session(data, path.name)
        except ValueError as exc:
            raise SessionError(
                f"session file {path} is damaged: {exc}",
                hint=f"Delete it with `clinvk sessions delete {session_id}`.",
            ) from None

    def _write(self, session: Session) -> None:
        if not is_session_id(session.id):
            raise ValidationError(f"{session.id!r} is not a session id (32 lowercase hex digits)")
        self._ensure_root()
        data = msgspec.json.format(_encoder.encode(session), indent=2) + b"\n"
        tmp = None
        try:
            import tempfile  # only when writing: listing and lookups do not need it

            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.root)
            with open(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(session.id))
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise self._fail(f"save session {session.id}", exc) from None

    @contextmanager
    def _locked(self, session_id: str) -> Iterator[None]:
        """Hold the session's lock (see :func:`clinvoker.session_locks.hold`)."""
        self._ensure_root()
        with ExitStack() as stack:
            try:
                stack.enter_context(hold(self.root / f".{session_id}.lock"))
            except OSError as exc:
                raise self._fail(f"lock session {session_id}", exc) from None
            yield

    def _ids(self, prefix: str = "") -> builtins.list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        if prefix:
            names = [n for n in names if n.startswith(prefix)]
        return [n[:-5] for n in names if n.endswith(".json") and is_session_id(n[:-5])]

    def _visible(self, session: Session, owner: str | None) -> bool:
        return owner is None or session.owner == owner

    # -- lookup --------------------------------------------------------------------------------

    def _resolve(self, id_or_prefix: str, owner: str | None) -> Session:
        text = id_or_prefix.strip().lower()
        if not text or not set(text) <= _HEX:
            raise SessionNotFound(
                f"no session matches {id_or_prefix!r}: session ids are hexadecimal "
                "(see `clinvk sessions list`)"
            )
        if is_session_id(text) and self._path(text).exists():
            try:
                session = self._read(text)
            except SessionNotFound:
                pass  # deleted meanwhile; the prefix search below reports it
            else:
                if self._visible(session, owner):
                    return session
                raise _not_found(id_or_prefix)
        found: builtins.list[Session] = []
        for session_id in sorted(self._ids(text)):
            try:
                session = self._read(session_id)
            except SessionNotFound:
                continue
            except SessionError as exc:
                self.problems.append(StoreProblem(f"{session_id}.json", exc.message))
                continue
            if self._visible(session, owner):
                found.append(session)
        if not found:
            raise _not_found(id_or_prefix)
        if len(found) > 1:
            found.sort(key=lambda s: s.last_used, reverse=True)
            shown = ", ".join(f"{s.id} ({s.backend}, {s.display_name!r})" for s in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            raise AmbiguousSession(
                f"session prefix {id_or_prefix!r} matches {len(found)} sessions: {shown}{more}",
                hint="Give more characters of the id.",
            )
        return found[0]

    def get(self, id_or_prefix: str, owner: str | None = None) -> Session:
        return self._resolve(id_or_prefix, owner)

    # -- writing -------------------------------------------------------------------------------

    def create(
        self,
        *,
        backend: str,
        workdir: str = "",
        model: str | None = None,
        initial_prompt: str | None = None,
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        owner: str | None = None,
        title: str | None = None,
        parent_id: str | None = None,
    ) -> Session:
        session = Session.new(
            backend=backend,
            workdir=workdir,
            model=model,
            initial_prompt=initial_prompt,
            tags=tags,
            metadata=metadata,
            owner=owner,
            title=title,
            parent_id=parent_id,
        )
        self._write(session)
        return session

    def update(self, session_id: str, fn: Callable[[Session], Session | None]) -> Session:
        if not (is_session_id(session_id) and self._path(session_id).exists()):
            session_id = self._resolve(session_id, None).id
        with self._locked(session_id):
            session = self._read(session_id)
            changed = fn(session)
            if changed is not None:
                session = changed
            if session.id != session_id:
                raise ValidationError(
                    f"an update may not change a session's id ({session_id} -> {session.id})"
                )
            self._write(session)
        return session

    def save(self, session: Session) -> None:
        with self._locked(session.id):
            self._write(session)

    def delete(self, id_or_prefix: str, owner: str | None = None) -> str:
        text = id_or_prefix.strip().lower()
        if owner is None and is_session_id(text) and self._path(text).exists():
            session_id = text  # no need to read it: damaged files can be deleted too
        else:
            session_id = self._resolve(id_or_prefix, owner).id
        with self._locked(session_id):
            self._remove(session_id)
        return session_id

    def _remove(self, session_id: str) -> bool:
        try:
            self._path(session_id).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._fail(f"delete session {session_id}", exc) from None
        artifacts = self.root / session_id
        if artifacts.is_dir():
            shutil.rmtree(artifacts, ignore_errors=True)
        return True

    # -- listing -------------------------------------------------------------------------------

    def _summaries(self) -> builtins.list[Summary]:
        scan = self._cache.scan()
        self.problems = list(scan.problems)
        return scan.summaries

    def list(
        self,
        *,
        backend: str | None = None,
        status: str | None = None,
        workdir: str | None = None,
        since: datetime | None = None,
        owner: str | None = None,
        model: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[builtins.list[Session], int]:
        if (limit is not None and limit < 0) or offset < 0:
            raise ValidationError("limit and offset must not be negative")
        keep = session_filter(
            backend=backend,
            status=status,
            workdir=workdir,
            since=since,
            owner=owner,
            model=model,
            tag=tag,
        )
        matches = [s for s in self._summaries() if keep(s)]
        matches.sort(key=NEWEST_FIRST, reverse=True)
        page = matches[offset : offset + limit] if limit else matches[offset:]
        sessions = []
        for summary in page:
            try:
                sessions.append(self._read(summary.id))
            except SessionNotFound:
                continue  # deleted since the scan
            except SessionError as exc:
                self.problems.append(StoreProblem(f"{summary.id}.json", exc.message))
        return sessions, len(matches)

    def latest_resumable(
        self, backend: str | None = None, workdir: str | None = None, owner: str | None = None
    ) -> Session | None:
        keep = session_filter(backend=backend, workdir=workdir, owner=owner)
        matches = [s for s in self._summaries() if s.resumable and keep(s)]
        for summary in sorted(matches, key=NEWEST_FIRST, reverse=True):
            try:
                return self._read(summary.id)
            except SessionError:
                continue
        return None

    def prune(self, older_than_days: int | None = None, keep: int | None = None) -> int:
        if (older_than_days or 0) < 0 or (keep or 0) < 0:
            raise ValidationError("older_than_days and keep must not be negative")
        newest_first = sorted(self._summaries(), key=NEWEST_FIRST, reverse=True)
        beyond_keep = {s.id for s in newest_first[keep:]} if keep else set()
        cutoff = time.time() - older_than_days * 86400 if older_than_days else None
        too_old = {s.id for s in newest_first if cutoff is not None and s.last_used < cutoff}
        deleted = 0
        for session_id in sorted(beyond_keep | too_old):
            with self._locked(session_id):
                if session_id not in beyond_keep and not self._still_old(session_id, cutoff):
                    continue
                deleted += self._remove(session_id)
        self._sweep()
        return deleted

    def _sweep(self) -> None:
        """Remove what crashed processes left behind: old temporary files, unheld lock files."""
        cutoff = time.time() - _LEFTOVER_AGE_S
        try:
            entries = [e for e in os.scandir(self.root) if e.name.startswith(".")]
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                if entry.stat().st_mtime >= cutoff:
                    continue
                if entry.name.startswith(".tmp-"):
                    os.unlink(entry.path)
                elif entry.name.endswith(".lock"):
                    remove_if_unheld(Path(entry.path))
            except OSError:
                continue

    def _still_old(self, session_id: str, cutoff: float | None) -> bool:
        """Whether a session is still unused since ``cutoff`` (it may have been used meanwhile)."""
        try:
            session = self._read(session_id)
        except SessionNotFound:
            return False
        return cutoff is not None and timestamp(session.last_used) < cutoff

    def count(self, owner: str | None = None) -> int:
        if owner is None:
            return len(self._ids())
        return sum(1 for s in self._summaries() if s.owner == owner)


def _not_found(id_or_prefix: str) -> SessionNotFound:
    return SessionNotFound(f"no session matches {id_or_prefix!r} (see `clinvk sessions list`)")
