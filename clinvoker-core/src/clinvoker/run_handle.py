"""One run of a backend CLI as a stream of normalized events: :class:`RunHandle`.

A handle is made by :func:`clinvoker.api.start` with everything resolved (request, command,
executable, session). Iterating it spawns the CLI and yields events numbered from 1, always
ending with exactly one :class:`~clinvoker.events.Done`; a failure (non-zero exit, timeout,
malformed output) is reported by a fatal :class:`~clinvoker.events.Error` just before it. The
clinvk session is updated before ``Done`` is yielded, so a consumer may stop right there.

Cancelling the iterating task, or ``await handle.cancel()``, stops the CLI's whole process group
and marks the session ``error`` / ``cancelled``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from clinvoker.backend import fold_events, last_line
from clinvoker.errors import BackendUnavailable, Cancelled, ClinvokerError, UsageError
from clinvoker.events import Done, Error, Event, SessionStarted, TextDelta, UsageReport
from clinvoker.request import Command, ParseState, RunOutput, RunRequest
from clinvoker.result import Result

if TYPE_CHECKING:
    import asyncio

    from clinvoker.backend import Backend
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost
    from clinvoker.runner import Process, ProcessExit, Runner
    from clinvoker.sessions import Session, SessionStore
    from clinvoker.spawn import Spawned

__all__ = ["CLEANUP_TIMEOUT_S", "RunHandle"]

CLEANUP_TIMEOUT_S = 10.0
"""Upper bound for an ephemeral run's cleanup commands (their errors are ignored)."""

_CANCELLED = "cancelled"


class RunHandle:
    """A resolved run: inspect it, then ``async for event in handle`` (or ``await handle.result()``).

    :ivar request: the merged :class:`~clinvoker.request.RunRequest`.
    :ivar command: the :class:`~clinvoker.request.Command` that will run (``argv[0]`` is the
        resolved executable when the CLI was found).
    :ivar backend: the :class:`~clinvoker.backend.Backend`.
    :ivar session: the clinvk :class:`~clinvoker.sessions.Session` (``None`` when ephemeral);
        refreshed after the run.
    :ivar on_native_line: called with every raw stdout line of the CLI (``-o stream-json``
        passthrough) before it is parsed.

    A handle is iterated once. Leaving the loop early does not stop the CLI by itself: use
    ``async with handle:`` (or :func:`clinvoker.api.stream`, or ``await handle.aclose()``) so the
    process group is stopped whatever happens.
    """

    def __init__(
        self,
        *,
        request: RunRequest,
        command: Command,
        backend: Backend,
        executable: str | None,
        session: Session | None,
        store: SessionStore | None,
        config: Config,
        host: PluginHost,
        runner: Runner | None = None,
        dry_run: bool = False,
    ) -> None:
        self.request = request
        self.command = command
        self.backend = backend
        self.executable = executable
        self.session = session
        self.store = store
        self.config = config
        self.host = host
        self._runner = runner
        self.dry_run = dry_run
        """Made by :func:`clinvoker.api.prepare`: inspect only, never run."""
        self.on_native_line: Callable[[bytes], None] | None = None
        self._spawned: Spawned | None = None
        self._gen: AsyncGenerator[Event, None] | None = None
        self._busy = False
        self._process: Process | None = None
        self._events: list[Event] = []
        self._seq = 0
        self._result: Result | None = None
        self._cancel_requested = False
        self._recorded = False
        self._ended = False
        self._finished: asyncio.Event | None = None

    @property
    def runner(self) -> Runner:
        """The :class:`~clinvoker.runner.Runner` that starts the CLI (made on first use, so a
        handle can be made before asyncio is imported)."""
        if self._runner is None:
            from clinvoker.runner import Runner

            self._runner = Runner()
        return self._runner

    def adopt(self, spawned: Spawned) -> None:
        """Run with ``spawned``, this handle's command already started by
        :func:`clinvoker.spawn.spawn` (with :attr:`executable` and no extra environment)."""
        if self._gen is not None or self._spawned is not None:
            raise RuntimeError("adopt() a started CLI before the run begins, once")
        self._spawned = spawned

    # -- consuming -----------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self.dry_run:
            raise UsageError("this handle comes from prepare() (a dry run); use start() to run it")
        if self._gen is None:
            import asyncio

            self._gen = self._run()
            self._finished = asyncio.Event()
        self._busy = True
        try:
            return await self._gen.__anext__()
        finally:
            self._busy = False

    async def result(self) -> Result:
        """Run to the end (or wait for whoever iterates) and return the final result.

        :raises Cancelled: the run was cancelled before it produced a result.
        """
        if self._gen is None:
            async for _ in self:
                pass
        elif self._result is None and self._finished is not None:
            await self._finished.wait()
        if self._result is None:
            raise Cancelled(f"the {self.backend.name} run was cancelled before it finished")
        return self._result

    async def cancel(self) -> None:
        """Stop the run: kill the CLI's process group and mark the session cancelled.

        A consumer still iterating receives an ``Error`` (code ``cancelled``) and ``Done``.
        """
        self._cancel_requested = True
        if self._process is not None:
            await self._process.close()
        self._drop_spawned()
        if self._gen is None:
            self._end_unstarted()
        elif not self._busy and not self._ended:
            await self._gen.aclose()

    def abandon(self) -> None:
        """Give up on a run that was never iterated, without an event loop.

        Kills the CLI handed over already started (``spawned``) and records the run as
        cancelled in the session, as :meth:`cancel` would.
        """
        self._cancel_requested = True
        self._drop_spawned()
        if self._gen is None:
            self._end_unstarted()

    async def aclose(self) -> None:
        """Same as :meth:`cancel` when the run has not finished; harmless afterwards."""
        if not self._ended:
            await self.cancel()

    async def __aenter__(self) -> RunHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def done(self) -> bool:
        """Whether the run has ended (finished, failed or cancelled)."""
        return self._ended

    # -- the run -------------------------------------------------------------------------------

    def _stamp(self, event: Event) -> Event:
        self._seq += 1
        stamped = msgspec.structs.replace(event, seq=self._seq)
        self._events.append(stamped)
        return stamped

    async def _run(self) -> AsyncGenerator[Event, None]:
        span, trace_env = _start_span(self.request)
        state = ParseState(self.request)
        captured: list[bytes] = []
        result: Result | None = None
        try:
            outcome: ProcessExit | None = None
            failure: ClinvokerError | None = None
            if not self._cancel_requested:
                try:
                    stream = self._stream(trace_env, state, captured)
                    async with contextlib.aclosing(stream):
                        async for event in stream:
                            yield event
                except ClinvokerError as exc:  # the CLI could not be started
                    failure = exc
                if self._process is not None and failure is None:
                    outcome = await self._process.wait()
            if failure is not None:
                result = self._failed_to_start(failure)
            else:
                result = self._final_result(outcome, state, captured)
            for event in self._closing_events(result):
                yield self._stamp(event)
            unsaved = self._record(result)
            if unsaved is not None:  # the answer stands, but the user must know it was not kept
                yield self._stamp(unsaved)
            if self.request.ephemeral and outcome is not None:
                await self._cleanup(result)
            self._result = result
            yield self._stamp(Done(result=result))
        except BaseException:
            await self._abort()
            raise
        finally:
            self._drop_spawned()
            self._ended = True
            _end_span(span, self._result)
            if self._finished is not None:
                self._finished.set()

    async def _stream(
        self, trace_env: dict[str, str], state: ParseState, captured: list[bytes]
    ) -> AsyncGenerator[Event, None]:
        """Spawn the CLI and yield the events of its stdout lines."""
        env = {k: v for k, v in trace_env.items() if k not in self.command.env}
        spawned, self._spawned = self._spawned, None
        self._process = self.runner.process(
            self.command,
            executable=self.executable,
            timeout_s=self.request.timeout_s,
            env=env,
            spawned=spawned,
        )
        await self._process.start()
        if self._cancel_requested:  # cancel() came while the process was being created
            await self._process.close()
        streaming = self.request.output == "stream"
        size = 0
        async for line in self._process.lines():
            if self.on_native_line is not None:
                self.on_native_line(line)
            if not streaming:
                size += len(line) + 1
                captured.append(line)
                if size > self._process.max_line_bytes:
                    self._process.line_too_long = True
                    await self._process.close()
                    break
                continue
            if not line.strip():
                continue
            for event in self._parse_line(line, state):
                if not isinstance(event, Done):
                    yield self._stamp(event)

    def _parse_line(self, line: bytes, state: ParseState) -> list[Event]:
        try:
            return self.host.parse_stream(self.backend, line, state)
        except Exception as exc:
            return [
                Error(
                    message=f"{self.backend.name} output line could not be parsed: "
                    f"{type(exc).__name__}: {exc}",
                    code="parse_error",
                    fatal=False,
                )
            ]

    def _failed_to_start(self, exc: ClinvokerError) -> Result:
        return Result(
            backend=self.backend.name,
            clinvk_session_id=self.session.id if self.session is not None else None,
            model=self.request.model,
            exit_code=127 if isinstance(exc, BackendUnavailable) else 1,
            error=str(exc),
            error_code=exc.code,
        )

    def _final_result(
        self, outcome: ProcessExit | None, state: ParseState, captured: list[bytes]
    ) -> Result:
        """The backend's result, corrected for what only the core knows (timeout, kill...)."""
        exit_code = outcome.exit_code if outcome is not None else 130
        output = RunOutput(
            request=self.request,
            exit_code=exit_code,
            stderr=outcome.stderr if outcome is not None else "",
            stdout=b"\n".join(captured) if self.request.output != "stream" else None,
            events=tuple(self._events),
            state=state,
            duration_s=outcome.duration_s if outcome is not None else 0.0,
        )
        try:
            result = self.host.parse_output(self.backend, output)
        except Exception:
            result = fold_events(self.backend.name, output)
        result = msgspec.structs.replace(
            result,
            backend=self.backend.name,
            clinvk_session_id=self.session.id if self.session is not None else None,
            duration_s=output.duration_s,
            model=result.model or self.request.model,
        )
        return self._correct(result, outcome, output.stderr)

    def _correct(self, result: Result, outcome: ProcessExit | None, stderr: str) -> Result:
        name = self.backend.name
        replace = msgspec.structs.replace
        if outcome is None or outcome.cancelled:
            return replace(result, exit_code=130, error=_CANCELLED, error_code=_CANCELLED)
        if outcome.timed_out:
            limit = f"{self.request.timeout_s:g}"
            return replace(
                result, exit_code=124, error=f"timed out after {limit}s", error_code="timeout"
            )
        if outcome.line_too_long:
            limit_mib = self.runner.max_line_bytes / (1024 * 1024)
            return replace(
                result,
                exit_code=outcome.exit_code or 1,
                error=f"{name} printed more than {limit_mib:g} MiB without a line break; "
                "its output cannot be trusted and the run was stopped",
                error_code="malformed_output",
            )
        fatal = next((e for e in self._events if isinstance(e, Error) and e.fatal), None)
        if result.error is None and fatal is not None:
            result = replace(result, error=fatal.message, error_code=fatal.code)
        if result.exit_code != 0 and result.error is None:
            message = last_line(stderr) or f"{name} exited with code {result.exit_code}"
            result = replace(result, error=message, error_code="crashed")
        return result

    def _closing_events(self, result: Result) -> list[Event]:
        """Events that make the stream tell the same story as the result."""
        events: list[Event] = []
        if self.request.output != "stream":
            if result.session_id:
                events.append(SessionStarted(session_id=result.session_id, model=result.model))
            if result.content:
                events.append(TextDelta(text=result.content))
            if result.usage is not None:
                events.append(UsageReport(usage=result.usage, cost_usd=result.cost_usd))
        reported = any(isinstance(e, Error) and e.fatal for e in self._events)
        forced = result.error_code in (_CANCELLED, "timeout", "malformed_output")
        if result.error is not None and (forced or not reported):
            events.append(Error(message=result.error, code=result.error_code or "crashed"))
        return events

    # -- endings -------------------------------------------------------------------------------

    async def _abort(self) -> None:
        """The consumer went away or the task was cancelled: stop everything, keep the record."""
        from clinvoker.runner import settle

        if self._process is not None:
            await settle(self._process.close(), swallow=True)
        if self._result is None:
            cancelled = self._cancelled_result()
            self._record(cancelled)
            if self.request.ephemeral and self._process is not None:
                # Leave nothing behind even when cancelled (bounded by CLEANUP_TIMEOUT_S).
                await settle(self._cleanup(cancelled), swallow=True)

    def _drop_spawned(self) -> None:
        """A CLI handed over already started that the run never adopted is killed here."""
        if self._spawned is not None:
            spawned, self._spawned = self._spawned, None
            spawned.abandon()

    def _end_unstarted(self) -> None:
        if not self._ended:
            self._ended = True
            self._record(self._cancelled_result())

    def _cancelled_result(self) -> Result:
        output = RunOutput(request=self.request, exit_code=130, events=tuple(self._events))
        partial = fold_events(self.backend.name, output)
        return msgspec.structs.replace(
            partial,
            clinvk_session_id=self.session.id if self.session is not None else None,
            error=_CANCELLED,
            error_code=_CANCELLED,
        )

    def _record(self, result: Result) -> Error | None:
        """Account for the run in the clinvk session (under the store's lock), once.

        Returns a non-fatal :class:`~clinvoker.events.Error` saying why the session could not
        be updated (read-only or full disk...), for the caller to pass on; ``None`` when saved.
        """
        if self.session is None or self.store is None or self._recorded:
            return None
        self._recorded = True
        keep_usage = self.config.session.store_token_usage
        try:
            self.session = self.store.update(
                self.session.id, lambda s: s.record_turn(result, store_token_usage=keep_usage)
            )
        except ClinvokerError as exc:
            message = f"this turn was not saved in session {self.session.short_id}: {exc}"
            return Error(message=message, code=exc.code, fatal=False)
        return None

    async def _cleanup(self, result: Result) -> None:
        """Run the backend's cleanup commands after an ephemeral run (errors ignored)."""
        try:
            commands = self.backend.cleanup_commands(self.request, result)
        except Exception:
            return
        if not commands:
            return
        import asyncio

        from clinvoker.runner import Runner

        runner = Runner(grace_s=0.5)

        async def run_all() -> None:
            for command in commands:
                exe = self.executable if command.argv[0] == self.backend.executable else None
                if command.cwd is None:
                    command = msgspec.structs.replace(command, cwd=self.request.workdir)
                try:
                    await runner.capture(command, executable=exe, timeout_s=CLEANUP_TIMEOUT_S)
                except (ClinvokerError, OSError):
                    continue

        try:
            await asyncio.wait_for(run_all(), CLEANUP_TIMEOUT_S)
        except TimeoutError:
            return

    def __repr__(self) -> str:
        session = self.session.short_id if self.session is not None else "ephemeral"
        return f"<RunHandle {self.backend.name} {session}>"


# -- telemetry ---------------------------------------------------------------------------------


def _start_span(request: RunRequest) -> tuple[Any, dict[str, str]]:
    """A span for this backend run and the ``TRACEPARENT`` for the child (when there is a trace).

    Uses only the OpenTelemetry API: without an SDK configured by the application the span is
    a no-op that still carries an incoming trace context on to the CLI. When nothing in this
    process has imported OpenTelemetry there can be no trace context to carry, and importing it
    (its propagators are looked up in package metadata) would cost every ``clinvk`` run ~8 ms.
    """
    if "opentelemetry.trace" not in sys.modules:
        return None, {}
    try:
        from opentelemetry import propagate, trace
    except ImportError:  # pragma: no cover - opentelemetry-api is a dependency
        return None, {}
    attributes = {"clinvoker.backend": request.backend}
    if request.model:
        attributes["clinvoker.model"] = request.model
    span = trace.get_tracer("clinvoker").start_span(
        f"clinvoker.run {request.backend}", attributes=attributes
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    env = {"TRACEPARENT": carrier["traceparent"]} if "traceparent" in carrier else {}
    if "tracestate" in carrier:
        env["TRACESTATE"] = carrier["tracestate"]
    return span, env


def _end_span(span: Any, result: Result | None) -> None:
    if span is None:
        return
    if result is None:
        span.set_attribute("clinvoker.error_code", _CANCELLED)
    else:
        span.set_attribute("clinvoker.exit_code", result.exit_code)
        if result.error_code:
            span.set_attribute("clinvoker.error_code", result.error_code)
        if result.usage is not None:
            span.set_attribute("clinvoker.input_tokens", result.usage.input_tokens)
            span.set_attribute("clinvoker.output_tokens", result.usage.output_tokens)
    span.end()
