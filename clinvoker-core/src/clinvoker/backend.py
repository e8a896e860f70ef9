"""The base class a backend is written against: plain methods in, pluggy hooks out.

A backend package needs one class and one registration hook::

    from clinvoker.backend import Backend
    from clinvoker.hookspecs import hookimpl

    class EchoBackend(Backend):
        name = "echo"
        executable = "echo"
        install_hint = "echo is part of coreutils"

        def build_command(self, request):
            return Command(argv=(self.executable, "--", request.prompt))

        def parse_stream(self, line, state):
            return [TextDelta(text=line.decode())]

    @hookimpl
    def clinvoker_register_backends(register):
        register(EchoBackend())

and an entry point ``[project.entry-points.clinvoker] echo = "my_package"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from clinvoker.events import Error, Event, Message, SessionStarted, TextDelta, UsageReport
from clinvoker.hookspecs import hookimpl
from clinvoker.request import Command, ParseState, RunOutput, RunRequest
from clinvoker.result import Result

__all__ = ["COMMON_ALIASES", "Backend", "fold_events", "version_in_range"]

COMMON_ALIASES: tuple[str, ...] = ("fast", "quick", "balanced", "default", "best", "powerful")
"""The Go tool's model aliases; each backend maps them in ``model_aliases``."""

_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def _version_tuple(text: str) -> tuple[int, int, int] | None:
    m = _VERSION_RE.search(text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def version_in_range(version: str, tested: str) -> bool:
    """Whether ``version`` satisfies a simple range like ``">=2.1.197,<2.2"``.

    Supports ``>=``, ``>``, ``<=``, ``<``, ``==`` clauses joined by commas; versions compare as
    (major, minor, patch) with missing parts as 0. An empty range accepts everything.
    """
    v = _version_tuple(version)
    if v is None:
        return False
    for clause in filter(None, (c.strip() for c in tested.split(","))):
        m = re.fullmatch(r"(>=|<=|==|>|<)\s*(\d+(?:\.\d+){0,2})", clause)
        if not m:
            return False
        parts = [int(p) for p in m[2].split(".")] + [0, 0]
        bound = (parts[0], parts[1], parts[2])
        op = m[1]
        ok = {
            ">=": v >= bound,
            ">": v > bound,
            "<=": v <= bound,
            "<": v < bound,
            "==": v == bound,
        }[op]
        if not ok:
            return False
    return True


def fold_events(backend: str, output: RunOutput) -> Result:
    """The default final :class:`Result` of a streamed run, folded from its events.

    * ``session_id``/``model``: the last :class:`SessionStarted`.
    * ``content``: all :class:`TextDelta` texts concatenated (or the last :class:`Message`
      if no delta was seen).
    * ``usage``/``cost_usd``: the last :class:`UsageReport`.
    * ``error``: the first fatal :class:`Error`; if the CLI exited non-zero without one, the
      last non-empty stderr line (or ``"<backend> exited with code N"``).
    """
    session_id: str | None = None
    model: str | None = None
    deltas: list[str] = []
    last_message: str | None = None
    usage = None
    cost = None
    error: Error | None = None
    for ev in output.events:
        if isinstance(ev, SessionStarted):
            session_id, model = ev.session_id, ev.model or model
        elif isinstance(ev, TextDelta):
            deltas.append(ev.text)
        elif isinstance(ev, Message):
            last_message = ev.text
        elif isinstance(ev, UsageReport):
            usage, cost = ev.usage, ev.cost_usd if ev.cost_usd is not None else cost
        elif isinstance(ev, Error) and ev.fatal and error is None:
            error = ev
    content = "".join(deltas) if deltas else (last_message or "")
    message = error.message if error else None
    code = error.code if error else None
    if output.exit_code != 0 and message is None:
        message = last_line(output.stderr) or f"{backend} exited with code {output.exit_code}"
        code = "crashed"
    return Result(
        backend=backend,
        content=content,
        session_id=session_id,
        model=model,
        usage=usage,
        cost_usd=cost,
        exit_code=output.exit_code,
        duration_s=output.duration_s,
        error=message,
        error_code=code,
    )


def last_line(text: str) -> str:
    """The last non-blank line of ``text``, stripped ('' if none)."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


class Backend:
    """Base class for a backend: subclass it, set the class attributes, write plain methods.

    The hook implementations below dispatch to the plain methods when the hook is called for
    *this* backend and return ``None`` otherwise, so several backends coexist in one plugin
    manager and cross-cutting wrappers see every backend's results.
    """

    name: ClassVar[str]
    """Unique backend name used with ``-b`` and in model routing (``claude``)."""
    executable: ClassVar[str]
    """Executable looked up on ``PATH`` unless the config sets ``backends.<name>.path``."""
    display_name: ClassVar[str] = ""
    install_hint: ClassVar[str] = ""
    """How to install the CLI, shown when it is missing (``npm install -g ...``)."""
    tested_versions: ClassVar[str] = ""
    """Version range this backend was tested with, e.g. ``">=2.1.197,<2.2"``."""
    version_args: ClassVar[tuple[str, ...]] = ("--version",)
    default_model: ClassVar[str | None] = None
    """Model used when none is given and the config has none; ``None`` = the CLI's own default."""
    models: ClassVar[tuple[str, ...]] = ()
    """Model ids this backend is known to accept (listed by ``/models``)."""
    model_aliases: ClassVar[Mapping[str, str]] = {}
    """Alias -> model id (``fast`` -> ``haiku``)."""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    """Features the CLI supports: ``resume``, ``continue``, ``system_prompt``, ``append_system_prompt``,
    ``max_turns``, ``allowed_tools``, ``sandbox``, ``approval``, ``session_id``, ``ephemeral``, ``stream``."""

    # -- plain methods a subclass writes ------------------------------------------------------

    def build_command(self, request: RunRequest) -> Command:
        """Build the CLI invocation for ``request``."""
        raise NotImplementedError(f"backend {self.name!r} does not implement build_command")

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        """Events for one stdout line (default: none)."""
        return []

    def parse_output(self, output: RunOutput) -> Result:
        """The final result (default: :func:`fold_events`)."""
        if output.stdout is not None and not output.events:
            events: list[Event] = []
            state = (
                output.state if isinstance(output.state, ParseState) else ParseState(output.request)
            )
            for line in output.stdout.splitlines():
                if line.strip():
                    events.extend(self.parse_stream(line, state))
            import msgspec

            output = msgspec.structs.replace(output, events=tuple(events), state=state)
        return fold_events(self.name, output)

    def cleanup_commands(self, request: RunRequest, result: Result) -> list[Command]:
        """Commands to run after an ephemeral run to delete the CLI's conversation (default none)."""
        return []

    def resolve_model(self, model: str | None) -> str | None:
        """Map an alias to a model id; ``None`` stays ``None``; unknown names pass through."""
        if model is None or model == "":
            return None
        return self.model_aliases.get(model, model)

    def parse_version(self, text: str) -> str | None:
        """Extract ``x.y.z`` from the CLI's ``--version`` output."""
        v = _version_tuple(text)
        return ".".join(map(str, v)) if v else None

    def is_tested_version(self, version: str) -> bool:
        return not self.tested_versions or version_in_range(version, self.tested_versions)

    # -- hook implementations (do not override) ------------------------------------------------

    @hookimpl
    def clinvoker_build_command(self, backend: Backend, request: RunRequest) -> Command | None:
        return self.build_command(request) if backend is self else None

    @hookimpl
    def clinvoker_parse_stream(
        self, backend: Backend, line: bytes, state: ParseState
    ) -> list[Event] | None:
        return self.parse_stream(line, state) if backend is self else None

    @hookimpl
    def clinvoker_parse_output(self, backend: Backend, output: RunOutput) -> Result | None:
        return self.parse_output(output) if backend is self else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
