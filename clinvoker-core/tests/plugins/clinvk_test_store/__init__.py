"""A session-store plugin: sessions in memory instead of files (think: a shared database).

``CLINVK_TEST_STORE=memory`` makes the hook answer with a :class:`MemoryStore`;
``CLINVK_TEST_STORE=broken`` makes it fail; anything else leaves the default file store.
"""

from __future__ import annotations

import builtins
import copy
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from clinvoker.config import Config
from clinvoker.errors import AmbiguousSession, SessionNotFound
from clinvoker.hookspecs import hookimpl
from clinvoker.sessions import Session, SessionStore, StoreProblem, session_filter


class MemoryStore(SessionStore):
    """Every method of the interface, over a dict guarded by a lock."""

    def __init__(self) -> None:
        self.problems: builtins.list[StoreProblem] = []
        self._data: dict[str, Session] = {}
        self._lock = threading.Lock()

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
        self.save(session)
        return session

    def get(self, id_or_prefix: str, owner: str | None = None) -> Session:
        prefix = id_or_prefix.lower()
        found = [
            s
            for i, s in self._data.items()
            if i.startswith(prefix) and (owner is None or s.owner == owner)
        ]
        if not found or not prefix:
            raise SessionNotFound(f"no session matches {id_or_prefix!r}")
        exact = [s for s in found if s.id == prefix]
        if len(found) > 1 and not exact:
            raise AmbiguousSession(f"{id_or_prefix!r} matches {len(found)} sessions")
        return copy.deepcopy((exact or found)[0])

    def update(self, session_id: str, fn: Callable[[Session], Session | None]) -> Session:
        with self._lock:
            session = self.get(session_id)
            session = fn(session) or session
            self._data[session.id] = copy.deepcopy(session)
            return session

    def save(self, session: Session) -> None:
        self._data[session.id] = copy.deepcopy(session)

    def delete(self, id_or_prefix: str, owner: str | None = None) -> str:
        session = self.get(id_or_prefix, owner)
        del self._data[session.id]
        return session.id

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
        keep = session_filter(
            backend=backend,
            status=status,
            workdir=workdir,
            since=since,
            owner=owner,
            model=model,
            tag=tag,
        )
        found = [s for s in self._data.values() if keep(s)]
        found.sort(key=lambda s: (s.last_used, s.id), reverse=True)
        page = found[offset : offset + limit] if limit else found[offset:]
        return [copy.deepcopy(s) for s in page], len(found)

    def latest_resumable(
        self, backend: str | None = None, workdir: str | None = None, owner: str | None = None
    ) -> Session | None:
        found = [
            s for s in self.list(backend=backend, workdir=workdir, owner=owner)[0] if s.resumable
        ]
        return found[0] if found else None

    def prune(self, older_than_days: int | None = None, keep: int | None = None) -> int:
        newest_first = self.list()[0]
        doomed = {s.id for s in newest_first[keep:]} if keep else set()
        if older_than_days:
            cutoff = time.time() - older_than_days * 86400
            doomed |= {s.id for s in newest_first if s.last_used.timestamp() < cutoff}
        for session_id in doomed:
            del self._data[session_id]
        return len(doomed)

    def count(self, owner: str | None = None) -> int:
        return self.list(owner=owner)[1]


@hookimpl
def clinvoker_session_store(config: Config) -> SessionStore | None:
    mode = os.environ.get("CLINVK_TEST_STORE", "")
    if mode == "broken":
        raise ConnectionError("cannot reach the shared store at 10.0.0.9:6379")
    return MemoryStore() if mode == "memory" else None
