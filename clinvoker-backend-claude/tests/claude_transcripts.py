"""Read the recorded runs of the real ``claude`` CLI in ``tests/transcripts/`` and replay them.

Each transcript holds the argv, stdin, exit code, verbatim stdout and stderr of one run against a
fake model API (see the header of each file). :func:`replay_streamed` feeds stdout line by line
the way the runner does; :func:`replay_captured` hands the whole stdout to ``parse_output`` the
way a non-streamed run does.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from clinvoker.events import Event
from clinvoker.request import ParseState, RunOutput, RunRequest
from clinvoker.result import Result
from clinvoker_claude.backend import ClaudeBackend

TRANSCRIPTS = Path(__file__).parent / "transcripts"
_OUTPUT_MODES = {"stream-json": "stream", "json": "json", "text": "text"}
_KILLED = -9  # a transcript whose run timed out and was killed


@dataclass(frozen=True)
class Transcript:
    """One recorded run."""

    name: str
    argv: tuple[str, ...]
    stdin: str | None
    exit_code: int
    stdout: bytes
    stderr: str

    def flag(self, name: str) -> str | None:
        """The value of ``--name value`` or ``--name=value`` in the recorded argv."""
        for i, item in enumerate(self.argv):
            if item.startswith(name + "="):
                return item.partition("=")[2]
            if item == name and i + 1 < len(self.argv):
                return self.argv[i + 1]
        return None

    @property
    def output(self) -> str:
        return _OUTPUT_MODES.get(self.flag("--output-format") or "text", "text")

    @property
    def prompt(self) -> str:
        if self.stdin is not None:
            return self.stdin
        try:
            return self.argv[self.argv.index("-p") + 1]
        except (ValueError, IndexError):
            return ""

    def request(self, **overrides: object) -> RunRequest:
        """The request that would have produced this run."""
        fields: dict[str, object] = {
            "prompt": self.prompt,
            "backend": "claude",
            "model": self.flag("--model"),
            "output": self.output,
            "resume_session_id": self.flag("--resume"),
            "new_session_id": self.flag("--session-id"),
            "continue_last": "--continue" in self.argv,
        }
        fields.update(overrides)
        return RunRequest(**fields)  # type: ignore[arg-type]


def load(name: str) -> Transcript:
    """Parse ``transcripts/<name>.txt``."""
    text = (TRANSCRIPTS / f"{name}.txt").read_text(encoding="utf-8")
    header, _, rest = text.partition("----- stdout -----\n")
    stdout, _, rest = rest.partition("----- stderr -----\n")
    stderr, _, _ = rest.partition("----- requests seen by")
    command = next(line[2:] for line in header.splitlines() if line.startswith("$ "))
    code = re.search(r"^# exit code: (\S+)", header, re.M)
    stdin = re.search(r"^# stdin: (.*)$", header, re.M)
    stdin_text = None
    if stdin and stdin.group(1).startswith("'"):
        stdin_text = shlex.split(stdin.group(1))[0]
    elif stdin and stdin.group(1).startswith('"'):
        stdin_text = json.loads(stdin.group(1))
    return Transcript(
        name=name,
        argv=tuple(shlex.split(command)),
        stdin=stdin_text,
        exit_code=int(code.group(1)) if code and code.group(1) != "None" else _KILLED,
        stdout=stdout.encode("utf-8"),
        stderr=stderr,
    )


def names() -> list[str]:
    """Every transcript in the folder."""
    return sorted(p.stem for p in TRANSCRIPTS.glob("*.txt"))


def replay_streamed(
    transcript: Transcript, request: RunRequest | None = None
) -> tuple[list[Event], Result]:
    """Feed stdout line by line, then build the result from the events (a streamed run)."""
    backend = ClaudeBackend()
    request = request or transcript.request()
    state = ParseState(request)
    events: list[Event] = []
    for line in transcript.stdout.splitlines():
        events.extend(backend.parse_stream(line, state))
    output = RunOutput(
        request=request,
        exit_code=transcript.exit_code,
        stderr=transcript.stderr,
        events=tuple(events),
        state=state,
    )
    return events, backend.parse_output(output)


def replay_captured(transcript: Transcript, request: RunRequest | None = None) -> Result:
    """Hand the whole stdout to ``parse_output`` (a non-streamed run)."""
    request = request or transcript.request()
    output = RunOutput(
        request=request,
        exit_code=transcript.exit_code,
        stderr=transcript.stderr,
        stdout=transcript.stdout,
    )
    return ClaudeBackend().parse_output(output)
