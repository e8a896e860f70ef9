"""A stand-in for an AI coding CLI, run as a real subprocess by the core tests.

It prints JSON lines like a streaming CLI does::

    {"type": "init", "session_id": "...", "model": "..."}
    {"type": "text", "text": "..."}            (several)
    {"type": "result", "usage": {...}, "cost": 0.001}

and can misbehave on request (crash midway, hang, print a huge line, flood stderr, ignore
SIGTERM, leave a grandchild behind). Only the standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid


def emit(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log_call(path: str | None, args: argparse.Namespace, stdin: str | None) -> None:
    if not path:
        return
    record = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "stdin": stdin,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("FAKE_", "TRACEPARENT"))},
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fake-cli")
    p.add_argument("--version", action="store_true")
    p.add_argument("--model")
    p.add_argument("--resume")
    p.add_argument("--session-id")
    p.add_argument("--resume-state")
    p.add_argument("--ephemeral", action="store_true")
    p.add_argument("--delete-session")
    p.add_argument("--output", default="stream")
    p.add_argument("--stdin", action="store_true", help="read the prompt from stdin")
    p.add_argument("--system-prompt-file")
    p.add_argument("--crash-after", type=int, help="exit 3 after this many text lines")
    p.add_argument("--exit-code", type=int, default=0)
    p.add_argument("--error-event", help="print an error event with this message")
    p.add_argument("--hang", action="store_true", help="print the init line, then sleep forever")
    p.add_argument("--big-line", type=int, help="print one text line of this many bytes")
    p.add_argument("--stderr-flood", type=int, help="write this many bytes to stderr first")
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--grandchild", help="spawn a sleeping grandchild and write its pid here")
    p.add_argument("--pidfile", help="write our own pid here")
    p.add_argument("--print-env", action="append", default=[])
    p.add_argument("--cat", action="append", default=[], help="print the content of a file")
    p.add_argument("--chunks", type=int, default=3)
    p.add_argument("--sleep", type=float, default=0.0, help="wait this long before answering")
    p.add_argument("--wait-file", help="wait (up to 30 s) until this file exists first")
    p.add_argument("prompt", nargs="?", default="")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    stdin_text = sys.stdin.read() if args.stdin else None
    log_call(os.environ.get("FAKE_CLI_LOG"), args, stdin_text)
    if args.version:
        print(os.environ.get("FAKE_CLI_VERSION", "fake-cli 1.4.2 (Fake Code)"))
        return 0
    if args.delete_session:
        return 0
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.pidfile:
        write_atomic(args.pidfile, str(os.getpid()))
    if args.grandchild:
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)",
            ]
            if args.ignore_term
            else [sys.executable, "-c", "import time; time.sleep(3600)"]
        )
        write_atomic(args.grandchild, str(child.pid))
    if args.stderr_flood:
        block = b"e" * 65536 + b"\n"
        left = args.stderr_flood
        while left > 0:
            sys.stderr.buffer.write(block[: min(left, len(block))])
            left -= len(block)
        sys.stderr.buffer.write(b"\nflood done\n")
        sys.stderr.flush()

    if args.wait_file:
        deadline = time.monotonic() + 30
        while not os.path.exists(args.wait_file) and time.monotonic() < deadline:
            time.sleep(0.01)
    if args.sleep:
        time.sleep(args.sleep)
    prompt = stdin_text if args.stdin else args.prompt
    session = args.resume or args.session_id or str(uuid.uuid4())
    if args.output == "text":
        print(f"echo: {prompt}")
        print()
        print("bye")
        return args.exit_code
    init: dict[str, object] = {"type": "init", "session_id": session, "model": args.model}
    if args.resume:
        init["resumed"] = True
    if args.resume_state:
        init["state"] = json.loads(args.resume_state)
    if args.system_prompt_file:
        with open(args.system_prompt_file, encoding="utf-8") as fh:
            init["system_prompt"] = fh.read()
    emit(init)
    for name in args.print_env:
        emit({"type": "env", "name": name, "value": os.environ.get(name)})
    for path in args.cat:
        with open(path, encoding="utf-8") as fh:
            emit({"type": "text", "text": fh.read()})
    if args.big_line:
        pad = args.big_line - len(json.dumps({"type": "text", "text": ""}))
        emit({"type": "text", "text": "x" * pad})
    if args.hang:
        while True:
            time.sleep(3600)
    text = f"echo: {prompt}"
    step = max(1, len(text) // max(1, args.chunks))
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    for n, piece in enumerate(pieces):
        if args.crash_after is not None and n >= args.crash_after:
            sys.stderr.write("fake-cli: lost connection to the model\n")
            return 3
        emit({"type": "text", "text": piece})
    if args.error_event:
        emit({"type": "error", "message": args.error_event})
    emit({"type": "result", "usage": {"input": len(prompt), "output": len(text)}, "cost": 0.001})
    return args.exit_code


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
