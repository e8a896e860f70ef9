"""Resolving a run: options, configuration and sessions merged into a :class:`RunHandle`.

Precedence (the Go tool's rules): explicit options > configuration (``unified_flags``, then
``backends.<name>``) > the backend's defaults. Approval and sandbox modes: the explicit value,
else ``unified_flags``; then ``backends.<name>`` replaces it only if it is still ``default``.
Model: explicit, else ``backends.<name>.model``, else the backend's ``default_model``; aliases
are resolved by the backend. Extra flags: the request's, then the config's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import msgspec

from clinvoker.errors import BackendUnavailable, UsageError, ValidationError
from clinvoker.request import (
    APPROVAL_MODES,
    OUTPUT_MODES,
    SANDBOX_MODES,
    ApprovalMode,
    OutputMode,
    RunRequest,
    SandboxMode,
)

if TYPE_CHECKING:
    from clinvoker.backend import Backend
    from clinvoker.config import Config
    from clinvoker.plugins import PluginHost
    from clinvoker.request import Command
    from clinvoker.run_handle import RunHandle
    from clinvoker.runner import Runner
    from clinvoker.sessions import Session, SessionStore

__all__ = ["Resolved", "RunOptions", "RunPlan"]


class RunOptions(TypedDict, total=False):
    """Keyword arguments accepted by :func:`start`, :func:`prepare`, :func:`stream`, :func:`run`."""

    backend: str | None
    model: str | None
    workdir: str | os.PathLike[str] | None
    resume: str | None
    continue_last: bool
    ephemeral: bool
    approval_mode: str | None
    sandbox_mode: str | None
    allowed_tools: Sequence[str] | None
    disallowed_tools: Sequence[str] | None
    max_turns: int | None
    system_prompt: str | None
    system_prompt_mode: str | None
    timeout: float | None
    extra_flags: Sequence[str]
    env: Mapping[str, str] | None
    add_dirs: Sequence[str]
    verbose: bool | None
    tags: Sequence[str]
    metadata: Mapping[str, Any] | None
    owner: str | None
    output: str
    config: Config | None
    store: SessionStore | None
    host: PluginHost | None
    runner: Runner | None


class Resolved:
    """A resolved run before its session exists: what :meth:`RunPlan.resolve` returns.

    Nothing here imports asyncio: ``clinvk`` makes the
    :class:`~clinvoker.run_handle.RunHandle` with :meth:`handle`, starts the CLI
    (:func:`clinvoker.spawn.spawn` on :attr:`command` with :attr:`executable`) and hands it over
    with ``RunHandle.adopt`` before it loads the event loop.
    """

    __slots__ = ("backend", "command", "executable", "plan", "request", "resumed")

    def __init__(
        self,
        plan: RunPlan,
        request: RunRequest,
        command: Command,
        backend: Backend,
        executable: str | None,
        resumed: Session | None,
    ) -> None:
        self.plan = plan
        self.request = request
        self.command = command
        self.backend = backend
        self.executable = executable
        self.resumed = resumed

    def handle(self, session: Session | None) -> RunHandle:
        """The handle of this run, recording into ``session``.

        A CLI started early (:func:`clinvoker.spawn.spawn` on :attr:`command`) is handed over
        with :meth:`RunHandle.adopt <clinvoker.run_handle.RunHandle.adopt>`.
        """
        from clinvoker.run_handle import RunHandle

        plan = self.plan
        return RunHandle(
            request=self.request,
            command=self.command,
            backend=self.backend,
            executable=self.executable,
            session=session,
            store=None if self.request.ephemeral else plan._store,
            config=plan.config,
            host=plan.host,
            runner=plan.opts.get("runner"),
            dry_run=plan.dry_run,
        )


def _check_choice(what: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise ValidationError(f"{what} {value!r} is not one of {', '.join(allowed)}")


class RunPlan:
    """Everything :func:`~clinvoker.api.start` and :func:`~clinvoker.api.prepare` resolve, in order."""

    def __init__(self, prompt: str, options: RunOptions, *, dry_run: bool) -> None:
        self.prompt = prompt
        self.opts = options
        self.dry_run = dry_run
        _check_choice("approval mode", options.get("approval_mode"), APPROVAL_MODES)
        _check_choice("sandbox mode", options.get("sandbox_mode"), SANDBOX_MODES)
        _check_choice(
            "system prompt mode", options.get("system_prompt_mode"), ("replace", "append")
        )
        _check_choice("output", options.get("output"), OUTPUT_MODES)
        if options.get("resume") and options.get("continue_last"):
            raise UsageError("resume and continue_last contradict each other; pass one")
        if options.get("ephemeral") and (options.get("resume") or options.get("continue_last")):
            raise UsageError(
                "an ephemeral run keeps no session, so it cannot resume one; drop ephemeral"
            )
        timeout = options.get("timeout")
        if timeout is not None and timeout <= 0:
            raise ValidationError(f"timeout must be a positive number of seconds, got {timeout}")
        self.host = options.get("host") or _default_host()
        self.config = options.get("config") or _load_config()
        self._store = options.get("store")

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            from clinvoker.sessions import open_store

            self._store = open_store(self.config, self.host)
        return self._store

    def handle(self) -> RunHandle:
        """Resolve everything, create the session (unless ephemeral or a dry run), make the handle."""
        resolved = self.resolve()
        return resolved.handle(self.create_session(resolved))

    def resolve(self) -> Resolved:
        """Resolve the backend, session to resume, request and command; create nothing."""
        opts = self.opts
        resumed = self._session_to_resume()
        name = resumed.backend if resumed is not None else self._backend_name()
        backend = self.host.backend(name)
        if self.config.backend(name).enabled is False:
            raise BackendUnavailable(
                f"backend {name!r} is disabled in the config (backends.{name}.enabled: false)",
                hint=f"set backends.{name}.enabled to true to use it",
                backend=name,
            )
        workdir = self._workdir(resumed)
        if resumed is None and opts.get("continue_last"):
            resumed = self.store.latest_resumable(
                backend=name, workdir=workdir, owner=opts.get("owner")
            )
        request = self._request(backend, workdir, resumed)
        command = self.host.build_command(backend, request)
        executable = self._executable(backend)
        if executable is not None and command.argv and command.argv[0] == backend.executable:
            command = msgspec.structs.replace(command, argv=(executable, *command.argv[1:]))
        if command.cwd is None:
            command = msgspec.structs.replace(command, cwd=workdir)
        return Resolved(self, request, command, backend, executable, resumed)

    def create_session(self, resolved: Resolved) -> Session | None:
        """The session the run records into: the resumed one, else a new one (``None`` when
        ephemeral or a dry run)."""
        if resolved.resumed is not None:
            return resolved.resumed
        request = resolved.request
        if request.ephemeral or self.dry_run:
            return None
        opts = self.opts
        assert request.workdir is not None  # resolve() always sets it
        return self.store.create(
            backend=request.backend,
            workdir=request.workdir,
            model=request.model,
            initial_prompt=self.prompt,
            tags=[*self.config.session.default_tags, *opts.get("tags", ())],
            metadata=opts.get("metadata"),
            owner=opts.get("owner"),
        )

    def _backend_name(self) -> str:
        return self.opts.get("backend") or self.config.default_backend

    def _session_to_resume(self) -> Session | None:
        ref = self.opts.get("resume")
        if not ref:
            return None
        session = self.store.get(ref, owner=self.opts.get("owner"))
        explicit = self.opts.get("backend")
        if explicit and explicit != session.backend:
            raise ValidationError(
                f"session {session.short_id} belongs to backend {session.backend!r}, "
                f"not {explicit!r}; drop the backend or pick another session"
            )
        if not session.backend_session_id:
            raise ValidationError(
                f"session {session.short_id} has no backend conversation id (its run ended "
                "before the CLI reported one), so it cannot be resumed; start a new session"
            )
        return session

    def _workdir(self, resumed: Session | None) -> str:
        given = self.opts.get("workdir")
        path = _absolute_dir(given) if given is not None else None
        if resumed is not None and resumed.working_dir:
            kept = _absolute_dir(resumed.working_dir)
            if path is not None and path != kept:
                raise ValidationError(
                    f"session {resumed.short_id} belongs to {kept}, not {path}; "
                    "drop the workdir to resume it there"
                )
            return kept
        return path if path is not None else str(Path.cwd().resolve())

    def _request(self, backend: Backend, workdir: str, resumed: Session | None) -> RunRequest:
        opts, unified = self.opts, self.config.unified_flags
        bcfg = self.config.backend(backend.name)
        approval = opts.get("approval_mode") or unified.approval_mode
        if approval == "default" and bcfg.approval_mode:
            approval = bcfg.approval_mode
        sandbox = opts.get("sandbox_mode") or unified.sandbox_mode
        if sandbox == "default" and bcfg.sandbox_mode:
            sandbox = bcfg.sandbox_mode
        model = opts.get("model") or bcfg.model or backend.default_model
        allowed, disallowed = opts.get("allowed_tools"), opts.get("disallowed_tools")
        max_turns = opts.get("max_turns")
        timeout = opts.get("timeout")
        verbose = opts.get("verbose")
        new_id = None
        # Preset the conversation id even for ephemeral runs: the CLI may not print it (text
        # mode), and ephemeral cleanup needs it to delete the conversation afterwards.
        if resumed is None and "session_id" in backend.capabilities:
            new_id = str(uuid.uuid4())
        return RunRequest(
            prompt=self.prompt,
            backend=backend.name,
            model=backend.resolve_model(model),
            workdir=workdir,
            add_dirs=tuple(_absolute_dir(d) for d in opts.get("add_dirs", ())),
            system_prompt=opts.get("system_prompt") or bcfg.system_prompt or None,
            system_prompt_mode=cast(Any, opts.get("system_prompt_mode") or "replace"),
            resume_session_id=resumed.backend_session_id if resumed is not None else None,
            new_session_id=new_id,
            resume_state=dict(resumed.backend_state) if resumed is not None else {},
            ephemeral=bool(opts.get("ephemeral")),
            approval_mode=cast(ApprovalMode, approval),
            sandbox_mode=cast(SandboxMode, sandbox),
            allowed_tools=tuple(allowed if allowed is not None else bcfg.allowed_tools),
            disallowed_tools=tuple(disallowed if disallowed is not None else bcfg.disallowed_tools),
            max_turns=max_turns if max_turns is not None else (unified.max_turns or None),
            output=cast(OutputMode, opts.get("output") or "stream"),
            verbose=verbose if verbose is not None else unified.verbose,
            extra_flags=(*opts.get("extra_flags", ()), *bcfg.extra_flags),
            env={**bcfg.env, **(opts.get("env") or {})},
            timeout_s=timeout if timeout is not None else (unified.command_timeout_secs or None),
        )

    def _executable(self, backend: Backend) -> str | None:
        from clinvoker.availability import find_executable, require_executable

        if self.dry_run:
            return find_executable(backend, self.config)
        return require_executable(backend, self.config)


def _absolute_dir(path: str | os.PathLike[str]) -> str:
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_dir():
        what = "does not exist" if not resolved.exists() else "is not a directory"
        raise UsageError(
            f"working directory {os.fspath(path)!r} {what}",
            hint="pass an existing directory",
        )
    return str(resolved)


def _default_host() -> PluginHost:
    from clinvoker.plugins import get_host

    return get_host()


def _load_config() -> Config:
    from clinvoker.config import load_config

    return load_config()
