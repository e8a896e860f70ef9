"""The library API: run a prompt on a backend CLI, from async code or a plain script.

::

    import clinvoker

    result = clinvoker.run_sync("explain this repo", backend="claude")      # plain script
    result = await clinvoker.run("fix the test", backend="codex", timeout=600)

    async for event in clinvoker.stream("hello", backend="gemini"):
        ...

    handle = clinvoker.start("hello", backend="claude")   # resolve now, spawn on iteration
    print(handle.command.shell_line(), handle.session.id)
    async for event in handle:
        ...

Options are merged per the Go tool's rules: explicit arguments > configuration
(``unified_flags`` and ``backends.<name>``) > the backend's defaults. Every run is recorded in a
clinvk session (created before the run, updated after it) unless ``ephemeral=True``.

:func:`run` returns the :class:`~clinvoker.result.Result` even when the run failed (check
``result.ok``); :func:`raise_for_error` turns a failed result into the matching exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Unpack

from clinvoker.errors import BackendCrashed, BackendError, Cancelled, RunTimeout
from clinvoker.run_handle import RunHandle
from clinvoker.run_plan import RunOptions, RunPlan

if TYPE_CHECKING:
    from clinvoker.events import Event
    from clinvoker.result import Result

__all__ = [
    "RunHandle",
    "RunOptions",
    "prepare",
    "raise_for_error",
    "run",
    "run_sync",
    "start",
    "stream",
]


def start(prompt: str, **options: Unpack[RunOptions]) -> RunHandle:
    """Resolve a run and return its :class:`RunHandle`; the CLI starts when the handle is iterated.

    Resolution happens now, so mistakes surface before anything runs; unless ``ephemeral``,
    the clinvk session is created now too (``handle.session``), with status ``active``.

    :param prompt: what to ask.
    :param backend: backend name (default: config ``default_backend``).
    :param model: model or alias such as ``fast`` or ``best`` (default: config
        ``backends.<b>.model``, then the backend's default).
    :param workdir: working directory of the CLI (default: the current directory); stored
        absolute in the session.
    :param resume: clinvk session id or unique prefix to continue; its backend, workdir and
        backend conversation are reused.
    :param continue_last: continue the newest resumable session of this backend in this
        workdir (and owner), or start a new one when there is none.
    :param ephemeral: record no clinvk session and have the backend leave no conversation.
    :param approval_mode: ``default``, ``auto``, ``none`` or ``always``.
    :param sandbox_mode: ``default``, ``read-only``, ``workspace`` or ``full``.
    :param allowed_tools: tools the agent may use (default: config).
    :param disallowed_tools: tools the agent may not use (default: config).
    :param max_turns: agent turn limit (default: config ``unified_flags.max_turns``).
    :param system_prompt: system prompt (default: config ``backends.<b>.system_prompt``).
    :param system_prompt_mode: ``replace`` (default) or ``append``.
    :param timeout: seconds before the whole process group is stopped (default: config
        ``unified_flags.command_timeout_secs``; none when 0).
    :param extra_flags: appended to the CLI's argv, before ``backends.<b>.extra_flags``.
    :param env: extra environment for the CLI (over ``backends.<b>.env``).
    :param add_dirs: extra directories the agent may use.
    :param verbose: ask the CLI for verbose output (default: config).
    :param tags: added to config ``session.default_tags`` on the new session.
    :param metadata: stored on the new session.
    :param owner: who the session belongs to (the server passes the API key's name).
    :param output: what the CLI prints: ``stream`` (default), ``json`` or ``text``.
    :param config: configuration (default: :func:`~clinvoker.config.load_config`).
    :param store: session store (default: :func:`~clinvoker.sessions.open_store`).
    :param host: plugin host (default: the process-wide one).
    :param runner: the :class:`~clinvoker.runner.Runner` (limits, grace period).
    :raises ClinvokerError: unknown backend, missing CLI, unknown session, invalid option.
    """
    return RunPlan(prompt, options, dry_run=False).handle()


def prepare(prompt: str, **options: Unpack[RunOptions]) -> RunHandle:
    """Resolve a run exactly like :func:`start` but create no session and never spawn.

    For ``--dry-run``: ``handle.command`` is what would run. A missing CLI is not an error here;
    ``handle.executable`` is then ``None`` and ``argv[0]`` the bare executable name.
    """
    return RunPlan(prompt, options, dry_run=True).handle()


async def stream(prompt: str, **options: Unpack[RunOptions]) -> AsyncIterator[Event]:
    """The events of one run, ending with ``Done``.

    Closing the generator stops the CLI; to stop it as soon as you leave the loop early, wrap
    it: ``async with contextlib.aclosing(clinvoker.stream(...)) as events:``.
    """
    handle = start(prompt, **options)
    async with handle:
        async for event in handle:
            yield event


async def run(prompt: str, **options: Unpack[RunOptions]) -> Result:
    """Run to the end and return the :class:`~clinvoker.result.Result`.

    A run that failed (non-zero exit, timeout, backend error) still returns its result, with
    ``result.ok`` false and ``error``/``error_code`` set; pass it to :func:`raise_for_error` to
    get an exception instead. Errors before the run (unknown backend, missing CLI...) raise.
    """
    handle = start(prompt, **options)
    async with handle:
        return await handle.result()


def run_sync(prompt: str, **options: Unpack[RunOptions]) -> Result:
    """:func:`run` for code without an event loop (``clinvoker.run_sync("hi", backend="claude")``).

    Inside a running event loop (e.g. a notebook) the run happens on a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run(prompt, **options))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="clinvoker-run") as pool:
        return pool.submit(asyncio.run, run(prompt, **options)).result()


def raise_for_error(result: Result) -> Result:
    """Return ``result`` if it succeeded, else raise what its failure stands for.

    :raises RunTimeout: ``error_code == "timeout"``; :raises Cancelled: ``"cancelled"``;
        :raises BackendCrashed: the CLI died or printed malformed output; :raises BackendError:
        any other failure reported by the backend.
    """
    if result.ok:
        return result
    message = result.error or f"{result.backend} exited with code {result.exit_code}"
    code = result.error_code
    if code == "timeout":
        raise RunTimeout(message, hint="raise the timeout or ask for less")
    if code == "cancelled":
        raise Cancelled(message)
    cls = BackendCrashed if code in ("crashed", "malformed_output", None) else BackendError
    raise cls(
        f"{result.backend} failed: {message}",
        backend=result.backend,
        backend_exit_code=result.exit_code,
    )
