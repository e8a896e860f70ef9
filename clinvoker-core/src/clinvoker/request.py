"""What a caller asks for (:class:`RunRequest`) and what a backend turns it into (:class:`Command`)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from clinvoker.modes import APPROVAL_MODES, SANDBOX_MODES

__all__ = [
    "APPROVAL_MODES",
    "OUTPUT_MODES",
    "SANDBOX_MODES",
    "ApprovalMode",
    "Command",
    "OutputMode",
    "ParseState",
    "RunOutput",
    "RunRequest",
    "SandboxMode",
]

ApprovalMode = Literal["default", "auto", "none", "always"]
"""Unified approval modes (the Go tool's names).

* ``default`` — the CLI's own default behaviour.
* ``auto`` — approve edits automatically (claude ``acceptEdits``, gemini ``auto_edit``).
* ``none`` — never ask, run everything (claude ``bypassPermissions``, gemini ``yolo``, codex full bypass).
* ``always`` — ask for everything / plan only (claude ``default``, gemini ``default``).
"""

SandboxMode = Literal["default", "read-only", "workspace", "full"]
"""Unified sandbox modes: ``read-only``, ``workspace`` (writes inside the workdir), ``full`` (no sandbox)."""

OutputMode = Literal["stream", "json", "text"]
"""What the backend CLI should print: its streaming JSON-lines format (the default, used for
every normal run), its single-JSON format, or plain text."""

OUTPUT_MODES: tuple[str, ...] = ("stream", "json", "text")


class RunRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One run of one backend, after config and defaults have been merged in.

    Backends read it in ``build_command``; nothing in it has been validated against the backend
    (an unsupported option is ignored with a warning event, never an error).
    """

    prompt: str
    backend: str
    model: str | None = None
    """Model name after alias resolution; ``None`` lets the CLI choose."""
    workdir: str | None = None
    """Working directory of the CLI process (absolute); ``None`` = the caller's cwd."""
    add_dirs: tuple[str, ...] = ()
    """Extra directories the agent may access."""
    system_prompt: str | None = None
    system_prompt_mode: Literal["replace", "append"] = "replace"
    resume_session_id: str | None = None
    """Backend session id to resume (Claude session id, Codex thread id, Gemini session id)."""
    continue_last: bool = False
    """Continue the CLI's most recent conversation (in ``workdir``)."""
    new_session_id: str | None = None
    """Preset id for a new conversation, where the CLI supports it (claude, gemini)."""
    resume_state: dict[str, Any] = msgspec.field(default_factory=dict)
    """``Result.backend_state`` of the previous turn of this conversation."""
    ephemeral: bool = False
    """Leave no conversation behind in the CLI's own storage."""
    approval_mode: ApprovalMode = "default"
    sandbox_mode: SandboxMode = "default"
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    max_turns: int | None = None
    output: OutputMode = "stream"
    verbose: bool = False
    extra_flags: tuple[str, ...] = ()
    """Appended to the CLI's argv before the prompt, as given."""
    env: dict[str, str] = msgspec.field(default_factory=dict)
    """Extra environment for the CLI process."""
    timeout_s: float | None = None


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """A fully built backend invocation: what the runner spawns.

    ``argv[0]`` is the executable *name or path*; the core resolves it before spawning.
    ``stdin`` is written then closed; ``None`` means stdin is ``/dev/null``.
    ``env`` holds additions to the inherited environment; an env value of ``""`` removes the variable.
    """

    argv: tuple[str, ...]
    env: dict[str, str] = msgspec.field(default_factory=dict)
    stdin: bytes | None = None
    cwd: str | None = None
    files: dict[str, bytes] = msgspec.field(default_factory=dict)
    """Files the runner writes into a private temporary directory before spawning (removed after
    the run). ``{file:NAME}`` in any argv item or env value is replaced by the path of file ``NAME``.
    Lets a pure backend pass e.g. a system prompt that the CLI only reads from a file."""

    def shell_line(self) -> str:
        """The command as one shell-quoted line (for ``--dry-run`` and logs)."""
        import shlex

        return shlex.join(self.argv)


class ParseState:
    """Per-run scratch space a backend's parser may use between lines.

    One is created for every run and passed to every ``parse_stream`` call and to
    ``parse_output``. ``data`` belongs to the backend; the core never reads it.
    """

    __slots__ = ("data", "request")

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        self.data: dict[str, Any] = {}


class RunOutput(msgspec.Struct, frozen=True, kw_only=True):
    """What a finished CLI process left behind, given to ``clinvoker_parse_output``.

    ``stdout`` is the whole captured standard output when the run was not streamed, else ``None``
    (the lines were already fed to ``parse_stream`` and their events are in ``events``).
    ``stderr`` is the (bounded) tail of standard error.
    """

    request: RunRequest
    exit_code: int
    stderr: str = ""
    stdout: bytes | None = None
    events: tuple[Any, ...] = ()
    """The normalized events produced so far (``clinvoker.events.Event`` values)."""
    state: Any = None
    """The run's :class:`ParseState`."""
    duration_s: float = 0.0
