"""An example third-party clinvoker backend, written against the public ``Backend`` base class.

The "CLI" it drives is ``python3 -c <script>``: it reads the prompt on stdin and streams JSON
lines back — a session id, the prompt word by word, and token usage — like a real agent CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from clinvoker.backend import Backend
from clinvoker.events import Error, Event, SessionStarted, TextDelta, UsageReport
from clinvoker.hookspecs import hookimpl
from clinvoker.request import Command, ParseState, RunRequest
from clinvoker.result import Usage

SCRIPT = """
import json, sys, uuid
words = sys.stdin.read().split()
def say(**event): print(json.dumps(event), flush=True)
say(type="start", session=sys.argv[1] if len(sys.argv) > 1 else uuid.uuid4().hex)
for i, word in enumerate(words):
    say(type="text", text=(" " if i else "") + word)
say(type="usage", input=len(words), output=len(words))
"""


class EchoBackend(Backend):
    name = "echo"
    executable = "python3"
    display_name = "Echo (example)"
    install_hint = "install Python 3 and put python3 on PATH"
    capabilities = frozenset({"stream", "resume"})

    def build_command(self, request: RunRequest) -> Command:
        argv = [self.executable, "-c", SCRIPT]
        if request.resume_session_id:
            argv.append(request.resume_session_id)
        return Command(argv=(*argv, *request.extra_flags), stdin=request.prompt.encode())

    def parse_stream(self, line: bytes, state: ParseState) -> list[Event]:
        try:
            event = json.loads(line)
        except ValueError:
            return [Error(message=f"echo printed a non-JSON line: {line[:80]!r}", fatal=False)]
        kind = event.get("type")
        if kind == "start":
            return [SessionStarted(session_id=event["session"])]
        if kind == "text":
            return [TextDelta(text=event["text"])]
        if kind == "usage":
            usage = Usage(input_tokens=event["input"], output_tokens=event["output"])
            return [UsageReport(usage=usage)]
        return []  # unknown event types are skipped


@hookimpl
def clinvoker_register_backends(register: Callable[[Backend], None]) -> None:
    register(EchoBackend())
