"""The stub backend CLI: a tiny executable that prints a recorded ``claude`` transcript.

The server benchmarks run the real ``claude`` backend with ``backends.claude.path`` pointing at
this stub, so every request goes through the real command building and stream parsing while the
"CLI" costs next to nothing. The stub is a ``/bin/sh`` script (written at run time into the
scratch directory) that looks at its arguments:

* ``--version`` — prints a Claude Code version line;
* a prompt containing ``relay-test`` — runs ``relay.py``, which prints the transcript's head,
  then :data:`RELAY_DELTAS` text deltas ``RELAY_INTERVAL_S`` apart whose text is the
  ``CLOCK_MONOTONIC`` time (ns) at which the line was written, then the tail;
* a prompt containing ``hold-test`` — prints the head and the deltas, then waits for a shared
  ``flock`` on the ``gate`` file, which the benchmark holds exclusively while it counts
  concurrent streams (a lock dies with its holder, and the wait gives up after
  ``HOLD_MAX_S``), then prints the tail;
* anything else — ``cat`` of the whole transcript (the recorded partial-message stream of
  ``claude -p --output-format stream-json --include-partial-messages``).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

__all__ = [
    "HOLD",
    "HOLD_MAX_S",
    "RELAY",
    "RELAY_DELTAS",
    "RELAY_INTERVAL_S",
    "StubFiles",
    "write_stub",
]

TRANSCRIPT = Path(__file__).with_name("data") / "claude_partial_stream.jsonl"
RELAY = "relay-test"
HOLD = "hold-test"
RELAY_DELTAS = 20
RELAY_INTERVAL_S = 0.02
HOLD_MAX_S = 120
VERSION = "2.1.197 (Claude Code)"

_RELAY_SCRIPT = """\
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "head.jsonl"), "rb") as fh:
    head = fh.read()
with open(os.path.join(here, "tail.jsonl"), "rb") as fh:
    tail = fh.read()
with open(os.path.join(here, "delta.json")) as fh:
    template = json.load(fh)
os.write(1, head)
for _ in range({count}):
    time.sleep({interval})
    template["event"]["delta"]["text"] = "@%d@" % time.monotonic_ns()
    os.write(1, (json.dumps(template, separators=(",", ":")) + "\\n").encode())
os.write(1, tail)
"""


class StubFiles:
    """Where the stub's files are: the executable, and the lock file that holds ``hold-test`` runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.executable = root / "claude"
        self.gate = root / "gate"


def _split(lines: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(head, text deltas, tail) of the transcript."""
    kinds = []
    for line in lines:
        event = json.loads(line).get("event") or {}
        delta = event.get("delta") or {}
        kinds.append(
            event.get("type") == "content_block_delta" and delta.get("type") == "text_delta"
        )
    first = kinds.index(True)
    last = len(kinds) - 1 - kinds[::-1].index(True)
    return lines[:first], lines[first : last + 1], lines[last + 1 :]


def write_stub(root: Path) -> StubFiles:
    """Write the stub CLI and its data into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    files = StubFiles(root)
    lines = TRANSCRIPT.read_text().splitlines(keepends=True)
    head, deltas, tail = _split(lines)
    (root / "transcript.jsonl").write_text("".join(lines))
    (root / "head.jsonl").write_text("".join(head))
    (root / "deltas.jsonl").write_text("".join(deltas))
    (root / "tail.jsonl").write_text("".join(tail))
    (root / "delta.json").write_text(deltas[0])
    (root / "relay.py").write_text(
        _RELAY_SCRIPT.format(count=RELAY_DELTAS, interval=RELAY_INTERVAL_S)
    )
    d = shlex.quote(str(root))
    python = shlex.quote(sys.executable)
    script = f"""#!/bin/sh
d={d}
for a in "$@"; do
  case "$a" in
    --version) echo '{VERSION}'; exit 0 ;;
    *{RELAY}*) exec {python} "$d/relay.py" ;;
    *{HOLD}*) cat "$d/head.jsonl" "$d/deltas.jsonl"; flock -s -w {HOLD_MAX_S} "$d/gate" true; exec cat "$d/tail.jsonl" ;;
  esac
done
exec cat "$d/transcript.jsonl"
"""
    files.executable.write_text(script)
    files.executable.chmod(0o755)
    return files
