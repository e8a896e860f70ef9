"""``clinvk [flags] PROMPT`` without click: start the CLI first, load the rest while it starts.

A plain prompt is what ``clinvk`` runs most, and every millisecond before the backend CLI is
spawned is a millisecond added to the user's wait. So for the common shapes of it this module
parses the command line itself, resolves the run (config, backend, session to continue, the
CLI's argv) and creates its session with nothing but the modules that needs, spawns the CLI,
and only then imports asyncio and the renderer, while the CLI boots on another core. (The
session comes first so that a run that cannot be recorded never reaches the model.) At the end
it flushes its output and leaves with :func:`os._exit`, skipping the interpreter's tear-down.

Everything it does is what the click command does (:func:`clinvoker.cli.prompt.run_root`):
the same flags, precedence, auto-resume rule, notes, output and exit codes. Anything it does
not handle exactly (another flag, ``--server``, ``--dry-run``, ``-v``, an odd value, a prompt
that could be a command name, an error click would word itself) makes :func:`parse` return
``None`` *before anything is read or run*, and ``clinvk`` takes the click path instead.
"""

from __future__ import annotations

import contextlib
import os
import sys

from clinvoker.cli.running import OUTPUT_FORMATS, stdin_is_tty
from clinvoker.modes import APPROVAL_MODES, SANDBOX_MODES

TYPE_CHECKING = False  # not from typing: this module is on the path of every prompt
if TYPE_CHECKING:
    from collections.abc import Sequence

    from clinvoker.config import Config
    from clinvoker.run_handle import RunHandle
    from clinvoker.run_plan import RunOptions
    from clinvoker.sessions import Session, SessionStore

__all__ = ["FastArgs", "parse", "run"]

_VALUED = {
    "-b": "backend",
    "--backend": "backend",
    "-m": "model",
    "--model": "model",
    "-o": "output_format",
    "--output-format": "output_format",
    "-w": "workdir",
    "--workdir": "workdir",
    "--config": "config",
    "--timeout": "timeout",
    "--approval-mode": "approval_mode",
    "--sandbox-mode": "sandbox_mode",
}
_FLAGS = {"--new": "new", "-c": "continue_", "--continue": "continue_", "--ephemeral": "ephemeral"}
_CHOICES = {
    "output_format": OUTPUT_FORMATS,
    "approval_mode": APPROVAL_MODES,
    "sandbox_mode": SANDBOX_MODES,
}


class FastArgs:
    """The command line of a plain prompt, as far as the fast path understands it."""

    __slots__ = (
        "approval_mode",
        "backend",
        "config",
        "continue_",
        "ephemeral",
        "model",
        "new",
        "output_format",
        "prompt",
        "sandbox_mode",
        "timeout",
        "workdir",
    )

    def __init__(self) -> None:
        self.backend: str | None = None
        self.model: str | None = None
        self.output_format: str | None = None
        self.workdir: str | None = None
        self.config: str | None = None
        self.timeout: float | None = None
        self.approval_mode: str | None = None
        self.sandbox_mode: str | None = None
        self.new = False
        self.continue_ = False
        self.ephemeral = False
        self.prompt: str | None = None
        """The PROMPT argument; ``None``: read it from standard input."""


def parse(args: Sequence[str]) -> FastArgs | None:
    """``args`` as a plain prompt run, or ``None`` when the click command must handle them.

    Looks only at ``args`` and the environment: nothing is read or started here.
    """
    if os.environ.get("CLINVK_SERVER", "").strip():
        return None
    parsed = FastArgs()
    positional: list[str] = []
    i, n = 0, len(args)
    while i < n:
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if positional:  # click stops parsing options at the first argument: anything else is
            return None  # an error (or a command's arguments) that click words itself
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
            if name in _FLAGS and not eq:
                setattr(parsed, _FLAGS[name], True)
                continue
            dest = _VALUED.get(name)
            if dest is None:
                return None
            if not eq:
                if i >= n:
                    return None
                value = args[i]
                i += 1
            if not _set(parsed, dest, value):
                return None
            continue
        if not arg.strip() or not any(c.isspace() for c in arg):
            return None  # empty, or a single word that could be a command name: click decides
        positional.append(arg)
    if len(positional) > 1:
        return None
    if positional:
        if not positional[0].strip():
            return None
        parsed.prompt = positional[0]
    elif stdin_is_tty():
        return None  # click shows the help
    if parsed.continue_ and (parsed.new or parsed.ephemeral):
        return None
    return parsed


def _set(parsed: FastArgs, dest: str, value: str) -> bool:
    choices = _CHOICES.get(dest)
    if choices is not None:
        value = value.lower()
        if value not in choices:
            return False
    elif dest == "timeout":
        try:
            seconds = float(value)
        except ValueError:
            return False
        if not 0 < seconds < float("inf"):
            return False
        parsed.timeout = seconds
        return True
    elif dest == "workdir":
        path = os.path.realpath(value)  # like click.Path(exists=True, resolve_path=True)
        if not os.path.isdir(path):
            return False
        value = path
    setattr(parsed, dest, value)
    return True


def run(args: FastArgs) -> int | None:
    """Run the prompt and return the exit code (errors are reported like the click path).

    ``None``: the configuration asks for something only the click path does (dry runs);
    nothing was read or started.
    """
    try:
        return _run(args)
    except BaseException as exc:
        from clinvoker.cli.exitcodes import report

        return report(exc, debug=os.environ.get("CLINVK_DEBUG", "").lower() in _TRUE)


_TRUE = ("1", "true", "yes")


def _run(args: FastArgs) -> int | None:
    from clinvoker.config import load_config
    from clinvoker.errors import ClinvokerError
    from clinvoker.plugins import get_host
    from clinvoker.run_plan import RunPlan
    from clinvoker.spawn import spawn

    config = load_config(args.config)
    if config.unified_flags.dry_run:
        return None
    prompt = args.prompt if args.prompt is not None else _read_stdin()
    host = get_host()
    # Only a run that may continue a session needs the store to pick it; otherwise RunPlan
    # opens it when it creates the session (and an ephemeral run never does).
    store: SessionStore | None = None
    if not (args.new or args.ephemeral):
        from clinvoker.sessions import open_store

        store = open_store(config, host)
    options: RunOptions = {
        "backend": args.backend,
        "model": args.model,
        "workdir": args.workdir,
        "ephemeral": args.ephemeral,
        "approval_mode": args.approval_mode,
        "sandbox_mode": args.sandbox_mode,
        "timeout": args.timeout,
        "config": config,
        "store": store,
        "host": host,
    }
    continuing = _continuation(args, config, store) if store is not None else None
    if continuing is not None:
        from clinvoker.cli.tables import time_ago

        options["resume"] = continuing.id
        options["backend"] = continuing.backend
        _note(
            f"continuing session {continuing.id[:8]} ({continuing.backend}) "
            f"from {time_ago(continuing.last_used)}; use --new to start fresh"
        )
    plan = RunPlan(prompt, options, dry_run=False)
    resolved = plan.resolve()
    signals = _HeldSignals()  # from the session's creation until the run is set up
    handle: RunHandle | None = None
    try:
        # The session first: a run that cannot be recorded (full or read-only disk) must never
        # reach the model.
        handle = resolved.handle(plan.create_session(resolved))
        # If it cannot start, the run tries again and reports it exactly as the click path does.
        with contextlib.suppress(ClinvokerError):
            handle.adopt(spawn(resolved.command, executable=resolved.executable))
        from clinvoker.cli.aio import run_async
        from clinvoker.cli.render import make_renderer
        from clinvoker.cli.running import drive, pick_output_format, result_exit_code

        renderer = make_renderer(
            pick_output_format(args.output_format, config.output.format),
            out=sys.stdout,
            err=sys.stderr,
            backend=resolved.backend.name,
            show_tokens=config.output.show_tokens,
            show_timing=config.output.show_timing,
        )
        run = handle
        signals.release()  # a signal that came meanwhile is raised here
        result = run_async(lambda: drive(run, renderer, native=False))
    except BaseException:
        signals.restore()
        if handle is not None and not handle.done:
            handle.abandon()  # stops a CLI it holds; the session records the run as cancelled
        raise
    return result_exit_code(result)


class _HeldSignals:
    """Holds SIGINT, SIGTERM and SIGHUP back while the run is being set up.

    Between the session's creation and the event loop a Ctrl-C would otherwise land in the
    middle of the spawn or an import, and SIGTERM/SIGHUP would kill clinvk outright, leaving
    the CLI to the watchdog and the session marked active. Held signals are noted; on
    :meth:`release` the first one is raised (``KeyboardInterrupt`` for SIGINT, ``Cancelled``
    for the others), and until the event loop installs its own handlers SIGTERM and SIGHUP
    raise ``Cancelled`` like SIGINT raises ``KeyboardInterrupt``.
    """

    def __init__(self) -> None:
        import signal

        self._signal = signal
        self._pending: list[int] = []
        self._old = {
            sig: signal.signal(sig, self._hold)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
            if signal.getsignal(sig) is not signal.SIG_IGN  # nohup: a hangup stays ignored
        }

    def _hold(self, signum: int, frame: object) -> None:
        self._pending.append(signum)

    @staticmethod
    def _stop(signum: int, frame: object) -> None:
        from clinvoker.cli.aio import stopped_by  # (imports asyncio: only on the way out)

        raise stopped_by(signum)

    def release(self) -> None:
        """Put the usual handlers back and act on a held signal."""
        signal = self._signal
        for sig in self._old:
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else self._stop)
        if self._pending:
            first = self._pending[0]
            if first == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop(first, None)

    def restore(self) -> None:
        """The handlers from before (after a failure)."""
        for sig, old in self._old.items():
            self._signal.signal(sig, old)


def _read_stdin() -> str:
    text = sys.stdin.read()
    if not text.strip():
        from clinvoker.errors import UsageError

        raise UsageError("no prompt: pass PROMPT as an argument or pipe it on stdin")
    return text


def _continuation(args: FastArgs, config: Config, store: SessionStore) -> Session | None:
    """The session this prompt continues (``-c`` or scoped auto-resume), or ``None``."""
    workdir = os.path.realpath(args.workdir or os.getcwd())  # as sessions store it
    if args.continue_:
        session = store.latest_resumable(backend=args.backend, workdir=workdir)
        if session is None:
            _note(f"no resumable session in {workdir}; starting a new one")
        return session
    if not config.session.auto_resume:
        return None
    return store.latest_resumable(backend=args.backend or config.default_backend, workdir=workdir)


def _note(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
