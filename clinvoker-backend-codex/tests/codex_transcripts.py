"""Load the recorded ``codex`` runs in ``transcripts/`` and replay them through the backend.

Each transcript is one real run of codex 0.169.0 against a fake model API: a header (argv,
stdin, exit code), then verbatim stdout and stderr. Paths are placeholders (``$CLIS/...``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinvoker.events import (
    Error,
    Event,
    Message,
    SessionStarted,
    TextDelta,
    ToolResult,
    ToolUse,
    UsageReport,
)
from clinvoker.request import ParseState, RunOutput, RunRequest
from clinvoker.result import Result
from clinvoker_codex.backend import CodexBackend

TRANSCRIPTS = Path(__file__).parent / "transcripts"
KILLED = -9
"""Exit code the runner reports for a run it had to kill (the transcript says ``TIMED OUT``)."""


@dataclass
class Transcript:
    """One recorded run."""

    name: str
    argv: list[str]
    exit_code: int
    stdout: bytes
    stderr: str
    stdin: str

    def request(self, **overrides: Any) -> RunRequest:
        """The RunRequest that would have produced this argv (output mode, model, resume)."""
        args = self.argv[2:] if self.argv[1:2] == ["exec"] else self.argv[1:]
        kw: dict[str, Any] = {
            "prompt": args[-1] if args and not args[-1].startswith("-") else "",
            "backend": "codex",
            "output": "stream" if "--json" in args else "text",
        }
        if "-m" in args:
            kw["model"] = args[args.index("-m") + 1]
        if "resume" in args:
            rest = args[args.index("resume") + 1 :]
            if "--last" in rest:
                kw["continue_last"] = True
            else:
                kw["resume_session_id"] = next(a for a in rest if not a.startswith("-"))
        kw.update(overrides)
        return RunRequest(**kw)


def load(name: str) -> Transcript:
    """Parse ``transcripts/<name>.txt``."""
    text = (TRANSCRIPTS / f"{name}.txt").read_text(encoding="utf-8")
    lines = text.split("\n")
    argv_line = next(line for line in lines if line.startswith("$ "))
    exit_line = next(line for line in lines if line.startswith("# exit code:"))
    stdin_line = next((line for line in lines if line.startswith("# stdin:")), "# stdin: ?")
    m = re.match(r"# exit code: (-?\d+)", exit_line)
    exit_code = int(m[1]) if m else KILLED
    out_at = lines.index("----- stdout -----")
    err_at = lines.index("----- stderr -----")
    end = next(i for i, line in enumerate(lines) if i > err_at and line.startswith("----- "))
    stdout = "\n".join(lines[out_at + 1 : err_at])
    stderr = "\n".join(lines[err_at + 1 : end])
    argv = shlex.split(argv_line[2:])
    argv[0] = Path(argv[0]).name
    return Transcript(
        name=name,
        argv=argv,
        exit_code=exit_code,
        stdout=(stdout + "\n").encode() if stdout else b"",
        stderr=stderr + "\n" if stderr else "",
        stdin=stdin_line.removeprefix("# stdin: "),
    )


def names() -> list[str]:
    """Every transcript, by name."""
    return sorted(p.stem for p in TRANSCRIPTS.glob("codex__*.txt"))


@dataclass
class Replay:
    """What a user would see from one run: every event, then the final result."""

    events: list[Event]
    result: Result
    state: ParseState = field(repr=False)


def replay_streamed(t: Transcript, request: RunRequest | None = None) -> Replay:
    """Feed stdout line by line to ``parse_stream`` (as the runner does), then ``parse_output``."""
    backend = CodexBackend()
    request = request or t.request()
    state = ParseState(request)
    events: list[Event] = []
    body = t.stdout.removesuffix(b"\n")
    for line in body.split(b"\n") if body else []:
        events.extend(backend.parse_stream(line, state))
    output = RunOutput(
        request=request,
        exit_code=t.exit_code,
        stderr=t.stderr,
        events=tuple(events),
        state=state,
        duration_s=0.5,
    )
    return Replay(events, backend.parse_output(output), state)


def replay_captured(t: Transcript, request: RunRequest | None = None) -> Result:
    """Give the whole captured stdout to ``parse_output`` (a non-streamed run)."""
    request = request or t.request()
    output = RunOutput(
        request=request,
        exit_code=t.exit_code,
        stderr=t.stderr,
        stdout=t.stdout,
        state=ParseState(request),
        duration_s=0.5,
    )
    return CodexBackend().parse_output(output)


def signature(event: Event) -> str:
    """A short, readable form of an event for assertions (``error:rate_limited!`` = fatal)."""
    if isinstance(event, SessionStarted):
        return "session"
    if isinstance(event, TextDelta):
        return "text"
    if isinstance(event, Message):
        return "message"
    if isinstance(event, ToolUse):
        return f"tool_use:{event.name}"
    if isinstance(event, ToolResult):
        return f"tool_result:{event.name}" + (":error" if event.is_error else "")
    if isinstance(event, UsageReport):
        return "usage"
    if isinstance(event, Error):
        return f"error:{event.code}" + ("!" if event.fatal else "")
    return type(event).__name__
