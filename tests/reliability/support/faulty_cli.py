"""A misbehaving stand-in for ``claude``, ``codex`` and ``gemini`` (standard library only).

Installed under the real CLI's name (see :func:`reliability.support.world.install_faulty_clis`),
it speaks that CLI's streaming JSON dialect — the dialect is the name it was started as — so the
real backend plugins parse it. It answers ``echo: <prompt>`` unless the prompt carries a fault
marker ``FAULT:<name>`` (or ``$FAULTY_MODE`` names one):

* ``ok``       — the answer in three text deltas, then the final result;
* ``slow``     — the answer in 20 deltas, ``$FAULTY_DELAY`` seconds apart (default 0.05);
* ``crash``    — the session start and one delta, a last words line on stderr, then SIGSEGV;
* ``hang``     — prints nothing and sleeps forever (a grandchild sleeps with it);
* ``garbage``  — malformed lines (not JSON, truncated JSON, invalid UTF-8, NUL bytes), exit 0;
* ``bigline``  — one 16 MiB line of truncated JSON, then exit 0 without a result;
* ``stderr``   — 32 MiB on stderr, a last line ``fatal: upstream quota exhausted``, exit 2;
* ``empty``    — exit 0 without printing anything;
* ``noterm``   — ignores SIGTERM (so does its grandchild), prints the session start, then hangs.

Every start is recorded in ``$FAULTY_LOG_DIR/<pid>.json`` *before* it misbehaves: argv (after
the program name), stdin (``null`` when it was ``/dev/null``), cwd, pid, process group, the
grandchild's pid, and the environment variables named in ``$FAULTY_RECORD_ENV`` (comma list).
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid

_MARKER = re.compile(r"FAULT:([a-z]+)")
_BIG_LINE_BYTES = 16 * 1024 * 1024
_STDERR_FLOOD_BYTES = 32 * 1024 * 1024
HANGS = ("hang", "noterm")


def out(text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.buffer.flush()


def emit(obj: object) -> None:
    out(json.dumps(obj))


def read_stdin() -> str | None:
    """The prompt piped on stdin, or ``None`` when stdin is ``/dev/null`` (or a terminal)."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return None
    if stat.S_ISCHR(mode):
        return None
    return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")


def prompt_of(dialect: str, args: list[str], stdin: str | None) -> str:
    """Where each real CLI takes its prompt from, given how the backends call it."""
    if dialect == "gemini":
        given = next((a[len("--prompt=") :] for a in args if a.startswith("--prompt=")), "")
        return (stdin or "") + given
    if stdin is not None and (not args or args[-1] == "-" or "--" not in args):
        return stdin
    return args[-1] if "--" in args else ""


def spawn_grandchild(ignore_term: bool) -> int:
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "time.sleep(3600)\n"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return child.pid


def record(entry: dict[str, object]) -> None:
    log_dir = os.environ.get("FAULTY_LOG_DIR")
    if not log_dir:
        return
    path = os.path.join(log_dir, f"{os.getpid()}.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(entry, fh)
    os.replace(tmp, path)


class Dialect:
    """The JSON lines one CLI prints: session start, text deltas, final result."""

    def __init__(self, name: str, session: str, model: str) -> None:
        self.name, self.session, self.model = name, session, model

    def start(self) -> None:
        if self.name == "claude":
            emit(
                {
                    "type": "system",
                    "subtype": "init",
                    "session_id": self.session,
                    "model": self.model,
                    "cwd": os.getcwd(),
                    "tools": [],
                }
            )
            emit(
                {
                    "type": "stream_event",
                    "session_id": self.session,
                    "event": {
                        "type": "message_start",
                        "message": {
                            "id": "msg_1",
                            "type": "message",
                            "role": "assistant",
                            "model": self.model,
                            "content": [],
                            "usage": {"input_tokens": 3, "output_tokens": 1},
                        },
                    },
                }
            )
            emit(
                {
                    "type": "stream_event",
                    "session_id": self.session,
                    "event": {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                }
            )
        elif self.name == "codex":
            emit({"type": "thread.started", "thread_id": self.session})
            emit({"type": "turn.started"})
        else:
            emit({"type": "init", "session_id": self.session, "model": self.model})

    def delta(self, text: str) -> None:
        if self.name == "claude":
            emit(
                {
                    "type": "stream_event",
                    "session_id": self.session,
                    "event": {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text},
                    },
                }
            )
        elif self.name == "gemini":
            emit({"type": "message", "role": "assistant", "content": text, "delta": True})
        # codex prints no deltas: the whole message comes in finish()

    def finish(self, text: str) -> None:
        usage = {"input_tokens": 3, "output_tokens": 5}
        if self.name == "claude":
            emit(
                {
                    "type": "stream_event",
                    "session_id": self.session,
                    "event": {"type": "content_block_stop", "index": 0},
                }
            )
            emit(
                {
                    "type": "stream_event",
                    "session_id": self.session,
                    "event": {"type": "message_stop"},
                }
            )
            emit(
                {
                    "type": "assistant",
                    "session_id": self.session,
                    "message": {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": self.model,
                        "content": [{"type": "text", "text": text}],
                        "stop_reason": "end_turn",
                        "usage": usage,
                    },
                }
            )
            emit(
                {
                    "type": "result",
                    "subtype": "success",
                    "is_error": False,
                    "num_turns": 1,
                    "result": text,
                    "stop_reason": "end_turn",
                    "session_id": self.session,
                    "total_cost_usd": 0.0001,
                    "usage": usage,
                }
            )
        elif self.name == "codex":
            emit(
                {
                    "type": "item.completed",
                    "item": {"id": "item_0", "type": "agent_message", "text": text},
                }
            )
            emit(
                {
                    "type": "turn.completed",
                    "usage": {
                        "input_tokens": 3,
                        "cached_input_tokens": 0,
                        "output_tokens": 5,
                        "reasoning_output_tokens": 0,
                    },
                }
            )
        else:
            emit(
                {
                    "type": "result",
                    "status": "success",
                    "stats": {
                        "total_tokens": 8,
                        "input_tokens": 3,
                        "output_tokens": 5,
                        "cached": 0,
                        "input": 3,
                        "duration_ms": 1,
                        "tool_calls": 0,
                    },
                }
            )


def answer(dialect: Dialect, text: str, pieces: int, delay: float) -> None:
    step = max(1, -(-len(text) // pieces))
    for i in range(0, len(text), step):
        dialect.delta(text[i : i + step])
        if delay:
            time.sleep(delay)
    dialect.finish(text)


def misbehave(fault: str, dialect: Dialect) -> int:
    if fault in HANGS:
        if fault == "noterm":
            dialect.start()
        while True:
            time.sleep(3600)
    if fault == "crash":
        dialect.start()
        dialect.delta("partial ans")
        sys.stderr.write("fake: segmentation fault while streaming\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "garbage":
        out(b"this is not json")
        out(b'{"type": "assistant", "message": {"content": [{"type": "te')
        out(b"\xff\xfe\x00\x01 binary \x00 junk \xc3\x28")
        out(b"[1, 2, 3]")
        out(b'"just a string"')
        return 0
    if fault == "bigline":
        out(
            b'{"type":"assistant","message":{"content":[{"type":"text","text":"'
            + b"A" * _BIG_LINE_BYTES
        )
        return 0
    if fault == "stderr":
        block = b"warning: retrying the request after a transient failure\n" * 1170
        for _ in range(_STDERR_FLOOD_BYTES // len(block) + 1):
            sys.stderr.buffer.write(block)
        sys.stderr.buffer.write(b"fatal: upstream quota exhausted\n")
        sys.stderr.flush()
        return 2
    if fault == "empty":
        return 0
    raise SystemExit(f"faulty_cli: unknown fault {fault!r}")


def main() -> int:
    dialect_name = os.environ.get("FAULTY_DIALECT", "claude")
    args = sys.argv[1:]
    if "--version" in args:
        print(
            {"claude": "2.1.197 (Claude Code)", "codex": "codex-cli 0.169.0", "gemini": "0.61.0"}[
                dialect_name
            ]
        )
        return 0
    stdin = read_stdin()
    prompt = prompt_of(dialect_name, args, stdin)
    found = _MARKER.search(prompt)
    fault = found[1] if found else os.environ.get("FAULTY_MODE", "ok")
    if fault == "noterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = spawn_grandchild(fault == "noterm") if fault in HANGS else None
    wanted = [n for n in os.environ.get("FAULTY_RECORD_ENV", "").split(",") if n]
    record(
        {
            "dialect": dialect_name,
            "argv": args,
            "stdin": stdin,
            "prompt": prompt,
            "cwd": os.getcwd(),
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "grandchild": grandchild,
            "fault": fault,
            "env": {n: os.environ[n] for n in wanted if n in os.environ},
        }
    )
    session = str(uuid.uuid4())
    for i, arg in enumerate(args):
        for flag in ("--session-id=", "--resume=", "--session-id", "--resume"):
            if arg.startswith(flag) and flag.endswith("="):
                session = arg[len(flag) :]
            elif arg == flag and i + 1 < len(args):
                session = args[i + 1]
    dialect = Dialect(dialect_name, session, "fake-model")
    if fault in ("ok", "slow"):
        dialect.start()
        delay = float(os.environ.get("FAULTY_DELAY", "0.05")) if fault == "slow" else 0.0
        answer(dialect, f"echo: {prompt}", 20 if fault == "slow" else 3, delay)
        return 0
    return misbehave(fault, dialect)


if __name__ == "__main__":
    sys.exit(main())
