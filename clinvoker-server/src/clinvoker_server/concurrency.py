"""How many runs may be in flight: a cap per backend with a bounded wait queue, and per key.

``server.max_concurrent_per_backend`` runs of one backend run at once; up to ``server.queue_size``
more wait (at most ``server.queue_timeout_secs``) for a free slot, in arrival order. When the
queue is full, or the wait times out, the request fails with
:class:`~clinvoker.errors.BackendOverloaded` (503, or 529 on the Anthropic API). A named key's
``max_concurrent`` caps that key's runs across backends (429 when exceeded).
"""

from __future__ import annotations

import asyncio
from collections import deque

from clinvoker.errors import BackendOverloaded, RateLimited

__all__ = ["Concurrency", "Lease", "Slots"]


class Slots:
    """A counting gate with a bounded FIFO queue."""

    def __init__(self, name: str, limit: int, queue_size: int, queue_timeout: float) -> None:
        self.name = name
        self.limit = max(1, limit)
        self.queue_size = max(0, queue_size)
        self.queue_timeout = queue_timeout
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting in the queue."""
        return sum(1 for w in self._waiters if not w.done())

    async def acquire(self) -> None:
        """Take a slot, waiting in the queue if needed; :class:`BackendOverloaded` if full."""
        if self.active < self.limit and not self.waiting:
            self.active += 1
            return
        if self.waiting >= self.queue_size:
            raise BackendOverloaded(
                f"backend {self.name!r} is busy: {self.active} runs in flight and "
                f"{self.waiting} waiting (server.max_concurrent_per_backend={self.limit}, "
                f"server.queue_size={self.queue_size})",
                hint="retry shortly, or raise those limits in the server config",
                backend=self.name,
            )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            if self.queue_timeout > 0:
                await asyncio.wait_for(asyncio.shield(fut), self.queue_timeout)
            else:
                await fut
        except TimeoutError:
            if fut.done() and not fut.cancelled():
                return
            fut.cancel()
            raise BackendOverloaded(
                f"backend {self.name!r} stayed busy for {self.queue_timeout:g}s "
                "(server.queue_timeout_secs)",
                hint="retry shortly, or raise server.max_concurrent_per_backend",
                backend=self.name,
            ) from None
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()
            else:
                fut.cancel()
            raise

    def release(self) -> None:
        """Give the slot back (once)."""
        """Give a slot back (handing it straight to the next waiter, if any)."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.active = max(0, self.active - 1)


class Lease:
    """One run's hold on its backend slot (and its key's count); release is idempotent."""

    def __init__(self, owner: Concurrency, backend: str, key: str | None) -> None:
        self._owner = owner
        self.backend = backend
        self.key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._owner._release(self)


class Concurrency:
    """The per-backend gates and per-key counters of one server."""

    def __init__(self, limit: int, queue_size: int, queue_timeout: float) -> None:
        self.limit = limit
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout
        self._slots: dict[str, Slots] = {}
        self._per_key: dict[str, int] = {}

    def slots(self, backend: str) -> Slots:
        """The gate of ``backend`` (created on first use)."""
        slots = self._slots.get(backend)
        if slots is None:
            slots = self._slots[backend] = Slots(
                backend, self.limit, self.queue_size, self.queue_timeout
            )
        return slots

    def active(self, backend: str | None = None) -> int:
        """Runs holding a slot (of ``backend``, or of all)."""
        if backend is not None:
            return self.slots(backend).active
        return sum(s.active for s in self._slots.values())

    async def acquire(self, backend: str, *, key: str | None = None, key_limit: int = 0) -> Lease:
        """A lease on a slot of ``backend``; counts against ``key`` when it has a limit."""
        if key is not None and key_limit > 0:
            if self._per_key.get(key, 0) >= key_limit:
                raise RateLimited(
                    f"API key {key!r} already has {key_limit} runs in flight (its max_concurrent)",
                    retry_after=1,
                    hint="wait for one to finish",
                )
            self._per_key[key] = self._per_key.get(key, 0) + 1
        else:
            key = None
        try:
            await self.slots(backend).acquire()
        except BaseException:
            if key is not None:
                self._per_key[key] -= 1
            raise
        return Lease(self, backend, key)

    def _release(self, lease: Lease) -> None:
        self.slots(lease.backend).release()
        if lease.key is not None:
            left = self._per_key.get(lease.key, 1) - 1
            if left <= 0:
                self._per_key.pop(lease.key, None)
            else:
                self._per_key[lease.key] = left
