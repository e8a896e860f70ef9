"""Spawning backend CLIs: the only module in clinvoker that starts a process.

A :class:`Runner` turns a :class:`~clinvoker.request.Command` into a :class:`Process`::

    runner = Runner()
    proc = runner.process(command, timeout_s=60)
    await proc.start()
    async for line in proc.lines():     # stdout, one line at a time, without the newline
        ...
    outcome = await proc.wait()          # exit code, stderr tail, timed out?

What it guarantees:

* argv only, never a shell; the child runs in its own process group (session).
* ``Command.stdin`` is written and closed; ``None`` means ``/dev/null``.
* ``Command.files`` are written into a private temporary directory (mode 0700) and
  ``{file:NAME}`` in argv items and env values is replaced by their paths; removed afterwards.
* The environment is inherited, plus ``Command.env`` (a value of ``""`` removes a variable).
* stdout is framed into lines with no small fixed limit; a line longer than
  ``max_line_bytes`` stops the process and is reported as ``line_too_long``.
* stderr is drained concurrently into a bounded tail, so a chatty child never blocks.
* A timeout, :meth:`Process.close` or cancellation of the awaiting task end the *whole* process
  group: SIGTERM, a grace period, then SIGKILL. The child is always reaped.
* If clinvoker itself dies first (even by SIGKILL), :mod:`clinvoker.watchdog` ends the group.

A :class:`Process` is created, then started, then read, so a pool can start processes before
their prompt is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any, TypeVar

import msgspec

from clinvoker import watchdog
from clinvoker.invocation import Invocation
from clinvoker.line_framer import LineFramer
from clinvoker.process_group import signal_group, stop_group, stop_leftovers, wait_dead
from clinvoker.request import Command
from clinvoker.spawn import Spawned, spawn

__all__ = [
    "DEFAULT_GRACE_S",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_STDERR_TAIL_BYTES",
    "Captured",
    "Process",
    "ProcessExit",
    "Runner",
    "settle",
]

DEFAULT_GRACE_S = 2.0
"""Seconds between SIGTERM and SIGKILL when a process group is stopped."""
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest stdout line accepted (64 MiB); longer means malformed output."""
DEFAULT_STDERR_TAIL_BYTES = 64 * 1024
"""How much of the end of stderr is kept for error messages."""

T = TypeVar("T")

_PAUSE_ABOVE = 8 * 1024 * 1024  # unread complete lines before stdout reading pauses
_RESUME_BELOW = 1024 * 1024


class ProcessExit(msgspec.Struct, frozen=True, kw_only=True):
    """How a process ended.

    ``exit_code`` is the child's exit status, or ``128 + N`` when signal N ended it.
    ``timed_out``: stopped because its timeout passed; ``cancelled``: stopped by :meth:`Process.close`
    (or cancellation) before it exited; ``line_too_long``: stopped because a stdout line exceeded
    the limit. ``stderr`` is the decoded tail of standard error.
    """

    exit_code: int
    signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    line_too_long: bool = False
    stderr: str = ""
    duration_s: float = 0.0


class Captured(msgspec.Struct, frozen=True, kw_only=True):
    """A finished process with all of its stdout (see :meth:`Runner.capture`)."""

    exit: ProcessExit
    stdout: bytes


class Runner:
    """Creates :class:`Process` objects with shared limits.

    :param grace_s: seconds between SIGTERM and SIGKILL when stopping a process group.
    :param max_line_bytes: longest stdout line accepted.
    :param stderr_tail_bytes: how much of the end of stderr to keep.
    """

    def __init__(
        self,
        *,
        grace_s: float = DEFAULT_GRACE_S,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        stderr_tail_bytes: int = DEFAULT_STDERR_TAIL_BYTES,
    ) -> None:
        self.grace_s = grace_s
        self.max_line_bytes = max_line_bytes
        self.stderr_tail_bytes = stderr_tail_bytes

    def process(
        self,
        command: Command,
        *,
        executable: str | None = None,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        spawned: Spawned | None = None,
    ) -> Process:
        """A process for ``command``, not started yet.

        :param executable: path that replaces ``argv[0]`` (the resolved CLI).
        :param timeout_s: stop the process group this many seconds after start.
        :param env: extra environment applied after ``command.env`` (e.g. ``TRACEPARENT``).
        :param spawned: ``command`` already started by :func:`clinvoker.spawn.spawn`; the
            process adopts it instead of starting another (``executable`` and ``env`` were
            applied then). Its timeout counts from that spawn.
        """
        return Process(
            command,
            executable=executable,
            timeout_s=timeout_s,
            extra_env=env,
            spawned=spawned,
            grace_s=self.grace_s,
            max_line_bytes=self.max_line_bytes,
            stderr_tail_bytes=self.stderr_tail_bytes,
        )

    async def capture(
        self, command: Command, *, executable: str | None = None, timeout_s: float | None = None
    ) -> Captured:
        """Run ``command`` to completion and return its whole stdout (for short helper commands)."""
        proc = self.process(command, executable=executable, timeout_s=timeout_s)
        async with proc:
            chunks = [line async for line in proc.lines()]
            outcome = await proc.wait()
        return Captured(exit=outcome, stdout=b"\n".join(chunks))


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, owner: Process) -> None:
        self._owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._owner._on_spawned(transport)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self._owner._on_stdout(data)
        elif fd == 2:
            self._owner._on_stderr(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._owner._on_stdout_eof()

    def process_exited(self) -> None:
        self._owner._on_exit()


class _PipeProtocol(asyncio.Protocol):
    """Hands one pipe's data and end to the process's protocol, like asyncio's own transport."""

    def __init__(self, protocol: asyncio.SubprocessProtocol, fd: int) -> None:
        self._protocol = protocol
        self._fd = fd

    def data_received(self, data: bytes) -> None:
        self._protocol.pipe_data_received(self._fd, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._protocol.pipe_connection_lost(self._fd, exc)


class _PopenTransport(asyncio.SubprocessTransport):
    """asyncio's subprocess transport over a process that is already running.

    ``loop.subprocess_exec`` can only start a process itself; this one adopts a
    :class:`subprocess.Popen` from :func:`clinvoker.spawn.spawn` (started before there was an
    event loop, or just now). Its pipes become asyncio pipe transports; its exit is noticed
    through a pidfd in the event loop (Linux), else by a thread waiting without reaping. Only
    :meth:`subprocess.Popen.poll` reaps it, so the ``Popen`` always knows its exit status.
    """

    def __init__(self, popen: subprocess.Popen[bytes], protocol: asyncio.SubprocessProtocol):
        super().__init__()
        self._popen = popen
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._pipes: dict[int, asyncio.BaseTransport] = {}
        self._pidfd: int | None = None
        self._exit_reported = False
        self._closed = False

    async def connect(self) -> None:
        """Tell the protocol, connect the pipes, then start watching for the exit."""
        self._protocol.connection_made(self)
        popen, loop = self._popen, self._loop
        if popen.stdin is not None:
            writer, _ = await loop.connect_write_pipe(
                lambda: _PipeProtocol(self._protocol, 0), popen.stdin
            )
            self._pipes[0] = writer
        for fd, pipe in ((1, popen.stdout), (2, popen.stderr)):
            if pipe is not None:
                reader, _ = await loop.connect_read_pipe(
                    lambda fd=fd: _PipeProtocol(self._protocol, fd),  # type: ignore[misc]
                    pipe,
                )
                self._pipes[fd] = reader
        self._watch_exit()

    def _watch_exit(self) -> None:
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                self._pidfd = pidfd_open(self._popen.pid)
            except OSError:
                self._pidfd = None
        if self._pidfd is not None:
            self._loop.add_reader(self._pidfd, self._poll_exit)
            return
        threading.Thread(
            target=_wait_then_call,
            args=(self._popen.pid, self._loop, self._poll_exit),
            name=f"clinvoker-wait-{self._popen.pid}",
            daemon=True,
        ).start()

    def _poll_exit(self) -> None:
        if self._exit_reported or self._popen.poll() is None:
            return
        self._exit_reported = True
        self._unwatch()
        self._protocol.process_exited()

    def _unwatch(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    # -- asyncio.SubprocessTransport ---------------------------------------------------------

    def get_pid(self) -> int:
        return self._popen.pid

    def get_returncode(self) -> int | None:
        return self._popen.returncode

    def get_pipe_transport(self, fd: int) -> asyncio.BaseTransport | None:
        return self._pipes.get(fd)

    def send_signal(self, signal: int) -> None:
        self._popen.send_signal(signal)  # a no-op once reaped: never a reused pid

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the pipes and stop watching; a child still running is killed and reaped."""
        if self._closed:
            return
        self._closed = True
        for pipe in self._pipes.values():
            pipe.close()
        popen = self._popen
        for fd, file in ((0, popen.stdin), (1, popen.stdout), (2, popen.stderr)):
            if file is not None and fd not in self._pipes:
                file.close()
        self._unwatch()
        if popen.poll() is None:
            with contextlib.suppress(OSError):
                popen.kill()
            popen.wait()


def _wait_then_call(pid: int, loop: asyncio.AbstractEventLoop, callback: Any) -> None:
    """Thread body: wait until child ``pid`` exits (without reaping it), then call back."""
    with contextlib.suppress(ChildProcessError):
        while True:
            try:
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
                break
            except InterruptedError:
                continue
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(callback)


class Process:
    """One child process: created, :meth:`start`-ed, read with :meth:`lines`, then :meth:`wait`-ed.

    Use it as an async context manager (``async with proc:``) so the process group is always
    stopped and the temporary files removed, whatever happens to the caller.
    """

    def __init__(
        self,
        command: Command,
        *,
        executable: str | None = None,
        timeout_s: float | None = None,
        extra_env: Mapping[str, str] | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        stderr_tail_bytes: int = DEFAULT_STDERR_TAIL_BYTES,
        spawned: Spawned | None = None,
    ) -> None:
        self.command = command
        self._spawned = spawned
        self.executable = executable or command.argv[0]
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.max_line_bytes = max_line_bytes
        self.stderr_tail_bytes = stderr_tail_bytes
        self._extra_env = dict(extra_env or {})
        self.pid: int | None = None
        self._started = False
        self._spawn_done = asyncio.Event()
        self._transport: asyncio.SubprocessTransport | None = None
        self._invocation: Invocation | None = None
        self._started_at = 0.0
        self._framer = LineFramer(max_line_bytes)
        self._paused = False
        self._stderr = bytearray()
        self._readable = asyncio.Event()
        self._exited = asyncio.Event()
        self._returncode: int | None = None
        self._ended_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._stopper: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._outcome: ProcessExit | None = None
        self.timed_out = False
        self.cancelled = False
        self.line_too_long = False

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the process (in its own process group) and feed its stdin.

        A process handed over already started (``spawned``) is adopted instead. Cancellation
        while the pipes are being connected never leaves a process behind: the connection is
        allowed to finish, then the process group is stopped.
        """
        if self._started:
            raise RuntimeError("process already started")
        self._started = True
        spawned = self._spawned
        try:
            if spawned is None:
                spawned = spawn(self.command, executable=self.executable, extra_env=self._extra_env)
            self._invocation = spawned.invocation
            self._started_at = spawned.started_at
            transport = _PopenTransport(spawned.popen, _Protocol(self))
            try:
                await settle(transport.connect())
            except asyncio.CancelledError:
                self._spawn_done.set()
                await settle(self.close(), swallow=True)
                raise
            except BaseException:
                transport.close()  # kills and reaps it
                raise
        except asyncio.CancelledError:
            raise
        except BaseException:
            if spawned is not None:
                spawned.abandon()
            self._transport, self.pid = None, None
            self._cleanup_files()
            raise
        finally:
            self._spawn_done.set()
        if self.command.stdin is not None:
            pipe = transport.get_pipe_transport(0)
            assert isinstance(pipe, asyncio.WriteTransport)
            pipe.write(self.command.stdin)
            pipe.close()  # closes once the data is flushed
        if self.timeout_s is not None:
            loop = asyncio.get_running_loop()
            left = self.timeout_s - (time.monotonic() - self._started_at)
            self._timer = loop.call_later(max(0.0, left), self._on_timeout)

    async def lines(self) -> AsyncIterator[bytes]:
        """Stdout lines without their trailing ``\\n``, as they arrive; ends at EOF or when stopped."""
        if self._transport is None:
            raise RuntimeError("start() the process before reading it")
        while True:
            line = self._framer.pop()
            if line is not None:
                if self._paused and self._framer.queued < _RESUME_BELOW:
                    self._set_reading(True)
                yield line
                continue
            if self._framer.closed:
                return
            self._readable.clear()
            await self._readable.wait()

    async def wait(self) -> ProcessExit:
        """Wait for the process to exit, stop what is left of its group, and report how it ended."""
        if self._outcome is not None:
            return self._outcome
        if self._transport is None:
            raise RuntimeError("start() the process before waiting for it")
        try:
            await self._exited.wait()
            if self._reaper is not None:
                await self._reaper
        except BaseException:
            self._force_kill()
            self._finish()
            raise
        return self._finish()

    async def close(self) -> ProcessExit | None:
        """Stop the whole process group (SIGTERM, grace, SIGKILL), reap it, remove temp files.

        Safe to call at any time and more than once; returns how the process ended (``None`` if
        it was never started).
        """
        if not self._started and self._spawned is not None:
            self._started = True  # handed over already running but never adopted: end it here
            self._spawn_done.set()
            self._spawned.abandon()
            self.cancelled = True
        if self._started and not self._spawn_done.is_set():
            await self._spawn_done.wait()  # being spawned right now: stop it once it exists
        if self._transport is None:
            self._cleanup_files()
            return self._outcome
        if not self._exited.is_set():
            self.cancelled = not (self.timed_out or self.line_too_long)
            self._begin_stop()
        return await self.wait()

    async def __aenter__(self) -> Process:
        if self._transport is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def returncode(self) -> int | None:
        """The raw exit status (negative for a signal) once the process exited, else ``None``."""
        return self._returncode

    @property
    def stderr_tail(self) -> str:
        """The kept end of stderr so far, decoded leniently."""
        return self._stderr.decode("utf-8", "replace")

    def _cleanup_files(self) -> None:
        if self._invocation is not None:
            self._invocation.cleanup()

    # -- protocol callbacks --------------------------------------------------------------------

    def _on_spawned(self, transport: asyncio.SubprocessTransport) -> None:
        self._transport = transport
        self.pid = transport.get_pid()  # registered with the watchdog by spawn()

    def _on_stdout(self, data: bytes) -> None:
        self._framer.feed(data)
        if self._framer.overflowed and not self.line_too_long:
            self.line_too_long = True
            self._begin_stop()
        elif self._framer.queued > _PAUSE_ABOVE and not self._paused:
            self._set_reading(False)
        self._readable.set()

    def _on_stdout_eof(self) -> None:
        self._framer.finish()
        self._readable.set()

    def _on_stderr(self, data: bytes) -> None:
        self._stderr += data
        excess = len(self._stderr) - self.stderr_tail_bytes
        if excess > 0:
            del self._stderr[:excess]

    def _on_exit(self) -> None:
        if self._transport is not None:
            self._returncode = self._transport.get_returncode()
        self._ended_at = time.monotonic()
        if self._timer is not None:
            self._timer.cancel()
        self._exited.set()
        self._reaper = asyncio.get_running_loop().create_task(self._after_exit())

    async def _after_exit(self) -> None:
        """Once the child exited: end the rest of its group, then let stdout reach EOF."""
        if self._stopper is not None:
            await self._stopper
        elif self.pid is not None:
            await stop_leftovers(self.pid, self.grace_s)
        if self.pid is not None:
            watchdog.untrack(self.pid)  # reaped and its group gone, even if nobody waits on it
        await self._drain_stdout()

    def _on_timeout(self) -> None:
        if not self._exited.is_set():
            self.timed_out = True
            self._begin_stop()

    def _set_reading(self, on: bool) -> None:
        pipe = self._transport.get_pipe_transport(1) if self._transport else None
        if isinstance(pipe, asyncio.ReadTransport):
            pipe.resume_reading() if on else pipe.pause_reading()
            self._paused = not on

    # -- stopping the process group ------------------------------------------------------------

    def _begin_stop(self) -> None:
        if self._stopper is None and self._transport is not None:
            self._stopper = asyncio.get_running_loop().create_task(self._stop_group())

    async def _stop_group(self) -> None:
        if self.pid is not None:
            await stop_group(self.pid, self._exited, self.grace_s)

    async def _drain_stdout(self) -> None:
        """Wait briefly for stdout EOF; a process that escaped the group may hold the pipe open."""
        if self._framer.closed:
            return
        if self._paused:
            self._set_reading(True)
        deadline = time.monotonic() + max(self.grace_s, 0.1)
        while not self._framer.closed and time.monotonic() < deadline:
            self._readable.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._readable.wait(), deadline - time.monotonic())
        if not self._framer.closed:
            self._on_stdout_eof()

    def _force_kill(self) -> None:
        """Last resort when waiting itself was interrupted: SIGKILL the group right now and
        wait (briefly, without reaping it from the child watcher) until the child is dead."""
        for task in (self._stopper, self._reaper):
            if task is not None and not task.done():
                task.cancel()
        signal_group(self.pid, signal.SIGKILL)
        if self.pid is not None and not self._exited.is_set():
            wait_dead(self.pid)

    def _finish(self) -> ProcessExit:
        if self._outcome is not None:
            return self._outcome
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._transport.close()
        if self.pid is not None:
            watchdog.untrack(self.pid)  # stopped and reaped: the id may be reused from now on
        self._cleanup_files()
        raw = self._returncode if self._returncode is not None else -signal.SIGKILL
        sig = -raw if raw < 0 else None
        end = self._ended_at or time.monotonic()
        self._outcome = ProcessExit(
            exit_code=128 + sig if sig is not None else raw,
            signal=sig,
            timed_out=self.timed_out,
            cancelled=self.cancelled,
            line_too_long=self.line_too_long,
            stderr=self.stderr_tail,
            duration_s=round(max(0.0, end - self._started_at), 6),
        )
        return self._outcome

    def __repr__(self) -> str:
        state = "new" if self._transport is None else f"pid={self.pid}"
        return f"<Process {self.command.argv[0]!r} {state}>"


async def settle(coro: Coroutine[Any, Any, T], *, swallow: bool = False) -> T:
    """Await ``coro`` to completion even if the caller is cancelled meanwhile.

    For work that must not be cut short: spawning (interrupting asyncio's pipe setup can hang
    it) and stopping a process group. The cancellation is re-raised afterwards, or dropped with
    ``swallow`` (when the caller is already handling one).
    """
    task = asyncio.ensure_future(coro)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled and not swallow:
        raise asyncio.CancelledError
    return task.result()
