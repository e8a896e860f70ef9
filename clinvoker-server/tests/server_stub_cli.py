"""A stand-in for a coding-agent CLI, printing recorded JSON lines (one turn of a conversation).

Usage: ``stub_cli.py --model MODE [--session ID] -- PROMPT``. Modes:

* ``echo``  — answers ``You said: <prompt>`` in three deltas;
* ``trace`` — answers with the ``TRACEPARENT`` it was given;
* ``slow``  — 20 deltas, ``STUB_DELAY`` seconds apart (default 0.05);
* ``crash`` — two deltas, then "stub crashed" on stderr and exit code 3;
* ``error`` — a fatal error line (``rate_limited``) and exit code 1;
* ``hang``  — one delta, then sleeps until killed;
* ``perm``  — answers with the ``<approval>/<sandbox>`` modes the backend was given;
* ``pwd``   — answers with its working directory.

Every run records its pid in ``$STUB_PID_DIR`` (when set) so tests can check it is gone.
"""

from __future__ import annotations

import json
import os
import sys
import time


def emit(**line: object) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def main() -> int:
    args = sys.argv[1:]
    mode = args[args.index("--model") + 1] if "--model" in args else "echo"
    session = args[args.index("--session") + 1] if "--session" in args else f"stub-{os.getpid()}"
    prompt = args[args.index("--") + 1] if "--" in args else ""
    system = args[args.index("--system") + 1] if "--system" in args else ""
    pid_dir = os.environ.get("STUB_PID_DIR")
    if pid_dir:
        with open(os.path.join(pid_dir, str(os.getpid())), "w") as fh:
            fh.write(mode)
    emit(type="init", session_id=session, model=mode)
    if mode == "trace":
        emit(type="delta", text=os.environ.get("TRACEPARENT", "none"))
    elif mode == "perm":
        emit(type="delta", text=args[args.index("--perm") + 1] if "--perm" in args else "none")
    elif mode == "pwd":
        emit(type="delta", text=os.getcwd())
    elif mode == "slow":
        delay = float(os.environ.get("STUB_DELAY", "0.05"))
        for i in range(20):
            emit(type="delta", text=f"w{i} ")
            time.sleep(delay)
    elif mode == "crash":
        emit(type="delta", text="partial ")
        emit(type="delta", text="answer")
        sys.stderr.write("stub crashed\n")
        return 3
    elif mode == "error":
        emit(type="error", code="rate_limited", message="upstream said slow down")
        return 1
    elif mode == "hang":
        emit(type="delta", text="thinking")
        while True:
            time.sleep(3600)
    else:
        answer = f"You said: {prompt}" + (f" [system: {system}]" if system else "")
        third = len(answer) // 3
        for piece in (answer[:third], answer[third : 2 * third], answer[2 * third :]):
            emit(type="delta", text=piece)
    emit(type="usage", input_tokens=len(prompt.split()) + 10, output_tokens=7, cached_tokens=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
