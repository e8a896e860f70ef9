"""Reading the recorded gemini runs in ``transcripts/`` and replaying them through the backend.

Each transcript holds one real ``gemini`` 0.61.0 run against a fake model API: a header (cwd,
env, stdin, argv, exit code), then the verbatim stdout and stderr.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from clinvoker.events import Event
from clinvoker.request import OutputMode, ParseState, RunOutput, RunRequest
from clinvoker.result import Result
from clinvoker_gemini.backend import GeminiBackend

TRANSCRIPTS = Path(__file__).parent / "transcripts"
KILLED = -9
"""Exit code we replay for a run the recorder killed on timeout (as a SIGKILLed process)."""


@dataclass(frozen=True)
class Transcript:
    """One recorded run."""

    case: str
    argv: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: str

    def option(self, *names: str) -> str | None:
        """The value given to the first of ``names`` in argv (``-o json`` -> ``json``)."""
        for i, arg in enumerate(self.argv):
            if arg in names and i + 1 < len(self.argv):
                return self.argv[i + 1]
        return None

    @property
    def output(self) -> OutputMode:
        value = self.option("-o", "--output-format")
        return {"json": "json", "stream-json": "stream"}.get(value or "", "text")  # type: ignore[return-value]

    def request(self) -> RunRequest:
        """The request clinvoker would have sent for this run."""
        return RunRequest(
            prompt=self.option("-p", "--prompt") or "",
            backend="gemini",
            model=self.option("-m", "--model"),
            output=self.output,
            resume_session_id=self.option("-r", "--resume"),
            new_session_id=self.option("--session-id"),
        )


def load(path: Path) -> Transcript:
    """Parse one transcript file."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("----- stdout -----\n")
    stdout, _, rest = rest.partition("----- stderr -----")
    stderr = rest.lstrip("\n").partition("----- requests seen")[0]
    if stdout.endswith("\n<no trailing newline>\n"):
        stdout = stdout[: -len("\n<no trailing newline>\n")]
    argv: tuple[str, ...] = ()
    exit_code = 0
    for line in head.splitlines():
        if line.startswith("$ "):
            argv = tuple(shlex.split(line[2:])[1:])
        elif line.startswith("# exit code: "):
            value = line.split()[3]
            exit_code = int(value) if value.lstrip("-").isdigit() else KILLED
    return Transcript(path.stem, argv, exit_code, stdout.encode(), stderr)


def all_cases() -> list[str]:
    """Every transcript's case name (``gemini__json_ok`` -> ``json_ok``)."""
    return sorted(p.stem.removeprefix("gemini__") for p in TRANSCRIPTS.glob("gemini__*.txt"))


def transcript(case: str) -> Transcript:
    return load(TRANSCRIPTS / f"gemini__{case}.txt")


def stream(t: Transcript, backend: GeminiBackend) -> tuple[list[Event], Result]:
    """Replay as the runner does for a streamed run: each stdout line, then the exit status."""
    request = t.request()
    state = ParseState(request)
    events: list[Event] = []
    for line in t.stdout.split(b"\n"):
        if line:
            events += backend.parse_stream(line, state)
    output = RunOutput(
        request=request, exit_code=t.exit_code, stderr=t.stderr, events=tuple(events), state=state
    )
    return events, backend.parse_output(output)


def captured(t: Transcript, backend: GeminiBackend) -> Result:
    """Replay as for a non-streamed run: the whole stdout handed to ``parse_output``."""
    request = t.request()
    output = RunOutput(
        request=request,
        exit_code=t.exit_code,
        stderr=t.stderr,
        stdout=t.stdout,
        state=ParseState(request),
    )
    return backend.parse_output(output)
