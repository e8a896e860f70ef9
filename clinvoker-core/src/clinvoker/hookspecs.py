"""The plugin contract: every hook clinvoker calls, when it calls it, and what each argument is.

Plugins are found through the entry-point group ``clinvoker``. A plugin is a module (or object)
with functions marked ``@hookimpl``; backends are usually written as a subclass of
:class:`clinvoker.backend.Backend`, which implements the per-backend hooks for you.

Dispatch is by backend: the per-backend hooks (``build_command``, ``parse_stream``,
``parse_output``) are ``firstresult`` hooks called with the :class:`~clinvoker.backend.Backend`
object the run is for; each backend's implementation answers only for itself and returns ``None``
for every other backend. A cross-cutting plugin implements the same hook with
``@hookimpl(wrapper=True)``: it runs around every backend's implementation, receives its result
from ``yield`` and returns the (possibly changed) value — e.g. add a flag to every command, or drop
events from every stream.

Backends must stay pure: no I/O, no subprocesses, no asyncio. The core does all of that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from clinvoker.backend import Backend
    from clinvoker.config import Config
    from clinvoker.events import Event
    from clinvoker.request import Command, ParseState, RunOutput, RunRequest
    from clinvoker.result import Result
    from clinvoker.sessions import SessionStore

PROJECT = "clinvoker"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]


@hookspec
def clinvoker_register_backends(register: Callable[[Backend], None]) -> None:
    """Contribute backends.

    Called once per process, the first time the set of backends is needed (not for ``--help``).

    :param register: call it with each :class:`~clinvoker.backend.Backend` instance this plugin
        provides. A backend registered under a name that is already taken is reported as a plugin
        failure and ignored. Registering a ``Backend`` instance also registers it as a plugin, so
        its ``@hookimpl`` methods take part in the per-backend hooks.
    """


@hookspec(firstresult=True)
def clinvoker_build_command(backend: Backend, request: RunRequest) -> Command | None:
    """Turn a request into the exact CLI invocation.

    Called once per run, after configuration, per-backend defaults and policy were merged into
    ``request``, and for ``--dry-run``.

    :param backend: the backend the run is for; answer only if it is yours, else return ``None``.
    :param request: the merged :class:`~clinvoker.request.RunRequest`.
    :returns: a :class:`~clinvoker.request.Command` (argv, env additions, stdin payload, cwd).
    """


@hookspec(firstresult=True)
def clinvoker_parse_stream(backend: Backend, line: bytes, state: ParseState) -> list[Event] | None:
    """Turn one line of the CLI's standard output into zero or more normalized events.

    Called for every stdout line as it arrives (without its trailing newline), in order.
    Must never raise on unexpected input: unknown event types and non-JSON lines are skipped or
    reported as non-fatal :class:`~clinvoker.events.Error` events.

    :param backend: the backend the run is for; answer only if it is yours, else return ``None``.
    :param line: one line of raw stdout bytes (may be up to tens of MiB).
    :param state: per-run scratch space (:class:`~clinvoker.request.ParseState`) shared by
        every call of this run and by ``parse_output``.
    :returns: a list of events (``seq`` left at 0; the core numbers them).
    """


@hookspec(firstresult=True)
def clinvoker_parse_output(backend: Backend, output: RunOutput) -> Result | None:
    """Build the final :class:`~clinvoker.result.Result` once the CLI has exited.

    Called once per run after the process exited (or was stopped). For streamed runs
    ``output.events`` holds every event ``parse_stream`` produced and ``output.stdout`` is
    ``None``; for non-streamed runs ``output.stdout`` holds the whole captured stdout.

    :param backend: the backend the run is for; answer only if it is yours, else return ``None``.
    :param output: exit code, stderr tail, stdout or events, the request and parse state.
    """


@hookspec
def clinvoker_register_commands(cli: click.Group) -> None:
    """Add commands to ``clinvk``.

    Called once when the command line is built, including for ``--help``: keep the module that
    implements this hook light and import heavy code inside the command's callback.

    :param cli: the root ``clinvk`` click group; call ``cli.add_command(...)``.
    """


@hookspec(firstresult=True)
def clinvoker_session_store(config: Config) -> SessionStore | None:
    """Provide the session store (e.g. a shared store for several server instances).

    Called once per process the first time sessions are needed. Return ``None`` to use the default
    one-JSON-file-per-session store.

    :param config: the loaded configuration.
    """
