"""What went wrong: stable error codes for codex's messages, and errors read from its stderr.

Codex reports API failures inside its JSONL stream (``error`` / ``turn.failed``), but some
failures happen before the stream starts and only leave text on stderr: an unknown resume id
(``no rollout found``), a bad flag (clap, exit 2), an invalid ``config.toml``. In text mode every
error is on stderr as ``ERROR: <message>``.
"""

from __future__ import annotations

import re

__all__ = ["banner_value", "classify", "stderr_error"]

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("session_not_found", re.compile(r"no rollout found", re.I)),
    (
        "authentication_failed",
        re.compile(
            r"\b401\b|unauthorized|missing environment variable|api key|not logged in|codex login",
            re.I,
        ),
    ),
    ("permission_denied", re.compile(r"\b403\b|forbidden|not inside a trusted directory", re.I)),
    ("rate_limited", re.compile(r"\b429\b|too many requests|rate.?limit|usage limit|quota", re.I)),
    (
        "model_not_found",
        re.compile(
            r"model\b.*\b(does not exist|not found|not supported|unknown)|model_not_found", re.I
        ),
    ),
    ("context_length_exceeded", re.compile(r"context window|context.length", re.I)),
    (
        "connection_failed",
        re.compile(
            r"connection failed|error sending request|waiting for network|"
            r"failed to lookup address|connection refused|dns error",
            re.I,
        ),
    ),
    (
        "server_error",
        re.compile(
            r"\b50[0234]\b|high demand|internal server error|service unavailable|overloaded|"
            r"stream disconnected|bad gateway",
            re.I,
        ),
    ),
    ("config_error", re.compile(r"error loading config|config\.toml|no longer supported", re.I)),
)


def classify(message: str, default: str = "backend_error") -> str:
    """A stable error code for one of codex's error messages (``default`` when none fits)."""
    for code, pattern in _RULES:
        if pattern.search(message):
            return code
    return default


# Lines codex prints on stderr in every run; never the reason for a failure.
_NOISE = (
    "WARNING: proceeding, even though we could not create PATH aliases",
    "Reading additional input from stdin",
    "Reading prompt from stdin",
    "warning: Codex could not find bubblewrap",
)
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+(ERROR|WARN|INFO|DEBUG|TRACE)\s")
_NO_ROLLOUT = re.compile(r"no rollout found for thread id\s+(\S+?)(?:\s+\(code [^)]*\))?$")
# "Error: ...", "error: ..." (clap), "Error loading config.toml: ..."
_ERROR_PREFIX = re.compile(r"^(?:ERROR|Error|error)(?::| [^:]{1,60}:)\s")


def _meaningful(stderr: str) -> list[str]:
    return [
        line.rstrip()
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(_NOISE)
    ]


def stderr_error(stderr: str, exit_code: int) -> tuple[str, str]:
    """The user-facing error message and code of a run that failed with only stderr to show.

    Prefers, in order: an unknown resume id, the last ``ERROR:`` line (text mode), an
    ``Error:``/``error:`` block (startup, config and flag errors), the last other line, and
    finally a generic message naming the exit code.
    """
    lines = _meaningful(stderr)
    for line in reversed(lines):
        m = _NO_ROLLOUT.search(line)
        if m:
            thread = m[1]
            return (
                f"codex has no saved conversation with thread id {thread} (it may have been "
                "ephemeral, deleted, or recorded under another CODEX_HOME); start a new "
                "conversation instead of resuming this one",
                "session_not_found",
            )
    for line in reversed(lines):
        if line.startswith("ERROR: "):
            message = line.removeprefix("ERROR: ").strip()
            return message, classify(message)
    for i, line in enumerate(lines):
        if _ERROR_PREFIX.match(line) and not _LOG_LINE.match(line):
            block = [line]
            for follow in lines[i + 1 : i + 4]:
                if follow.startswith(("For more information", "Usage:")):
                    break
                block.append(follow.strip())
            message = " ".join(part for part in block if part)
            code = "invalid_arguments" if exit_code == 2 else classify(message)
            return message, code
    plain = [line for line in lines if not _LOG_LINE.match(line)]
    if plain:
        return plain[-1].strip(), classify(plain[-1], default="crashed")
    if lines:
        return lines[-1].strip(), classify(lines[-1], default="crashed")
    return f"codex exited with code {exit_code} without an error message", "crashed"


def banner_value(stderr: str, key: str) -> str | None:
    """A value from the header codex prints on stderr in text mode (``session id: <uuid>``)."""
    prefix = f"{key}: "
    for line in stderr.splitlines():
        if line.startswith(prefix):
            value = line[len(prefix) :].strip()
            return value or None
    return None
