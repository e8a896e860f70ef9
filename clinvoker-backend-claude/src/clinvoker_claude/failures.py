"""Claude Code's failure messages → a stable error ``code`` and, where it helps, what to do.

The CLI reports API failures in its ``result`` (``is_error: true``, ``api_error_status``), as a
synthetic assistant message with a top-level ``error`` (stream-json), as plain text on stdout
(text mode), and start-up failures as one line on stderr. All of them end up here.
"""

from __future__ import annotations

import re

__all__ = ["Failure", "classify_api_error", "classify_message", "classify_startup_failure"]

# The synthetic assistant message's ``error`` field → our code.
_SYNTHETIC_CODES = {
    "authentication_failed": "authentication_failed",
    "billing_error": "authentication_failed",
    "rate_limit": "rate_limited",
    "server_error": "server_error",
    "model_not_found": "model_not_found",
    "invalid_request": "invalid_request",
}

# (pattern, code) checked in order against an API error message.
_API_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"invalid api key|not logged in|/login|oauth|authenticat", re.I),
        "authentication_failed",
    ),
    (re.compile(r"\(429\)|rate limit|rate_limit|too many requests", re.I), "rate_limited"),
    (
        re.compile(r"issue with the selected model|model .*not (?:exist|found)", re.I),
        "model_not_found",
    ),
    (
        re.compile(
            r"unable to connect|connection ?refused|ECONNREFUSED|ENOTFOUND|fetch failed", re.I
        ),
        "connection_failed",
    ),
    (
        re.compile(r"API Error: 5\d\d|overloaded|server-side issue|internal server error", re.I),
        "server_error",
    ),
    (re.compile(r"empty or malformed response|failed to parse json", re.I), "server_error"),
    (re.compile(r"prompt is too long|context.*(?:length|window)", re.I), "invalid_request"),
)


class Failure:
    """One classified failure: the message a user sees and its stable code."""

    __slots__ = ("code", "message")

    def __init__(self, message: str, code: str) -> None:
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"Failure({self.message!r}, {self.code!r})"


def classify_api_error(message: str, status: object = None, synthetic: object = None) -> str:
    """The code for an API failure, from the synthetic ``error`` field, the HTTP status or the text."""
    if isinstance(synthetic, str) and synthetic in _SYNTHETIC_CODES:
        return _SYNTHETIC_CODES[synthetic]
    if isinstance(status, int) and not isinstance(status, bool):
        if status in (401, 403):
            return "authentication_failed"
        if status == 429:
            return "rate_limited"
        if status == 404:
            return "model_not_found"
        if status >= 500:
            return "server_error"
        if status == 400 or status == 413:
            return "invalid_request"
    for pattern, code in _API_PATTERNS:
        if pattern.search(message):
            return code
    return "api_error"


_ROOT_BYPASS_HINT = (
    "Claude Code refuses to bypass permissions (approval mode 'none') when run as root. "
    "If this machine is a disposable sandbox, set IS_SANDBOX=1 in the claude backend's env "
    "(config key backends.claude.env); otherwise run clinvk as a normal user or use approval mode 'auto'"
)

# (pattern, code, hint) for failures the CLI reports on stderr before it talks to any API.
_STARTUP_PATTERNS: tuple[tuple[re.Pattern[str], str, str | None], ...] = (
    (
        re.compile(r"root/sudo privileges", re.I),
        "permission_denied",
        _ROOT_BYPASS_HINT,
    ),
    (
        re.compile(r"no conversation found", re.I),
        "session_not_found",
        "Claude keeps conversations per working directory: resume from the directory the "
        "conversation was started in, or start a new one",
    ),
    (
        re.compile(r"session id .* is already in use", re.I),
        "session_in_use",
        "Resume that conversation instead, or start a new one without a preset session id",
    ),
    (
        re.compile(
            r"unknown option|too many arguments|argument .* is invalid|invalid session id|"
            r"requires --verbose|must be provided|cannot be used with|error: option",
            re.I,
        ),
        "invalid_request",
        "Check the extra flags passed to claude (`claude --help` lists them)",
    ),
)


def _error_line(text: str) -> str:
    """The most telling line of a stderr tail: a known failure, else the last ``error``-looking
    line, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(pattern.search(line) for pattern, _, _ in _STARTUP_PATTERNS):
            return line
    for line in reversed(lines):
        if re.match(r"(?:error|fatal)\b", line, re.I):
            return line
    return lines[-1] if lines else ""


def classify_message(message: str) -> Failure:
    """A failure the CLI described in one message (a stderr line or a result's ``errors``)."""
    for pattern, code, hint in _STARTUP_PATTERNS:
        if pattern.search(message):
            return Failure(_with_hint(message, hint), code)
    code = classify_api_error(message)
    if code == "api_error" and "api error" not in message.lower():
        code = "crashed"
    return Failure(message, code)


def classify_startup_failure(stderr: str, exit_code: int) -> Failure:
    """A failure the CLI reported on stderr (or nowhere) without producing a result."""
    line = _error_line(stderr)
    if line:
        return classify_message(line)
    if exit_code < 0:
        return Failure(f"claude was killed by signal {-exit_code}", "crashed")
    return Failure(f"claude exited with code {exit_code} without a message", "crashed")


def _with_hint(message: str, hint: str | None) -> str:
    if not hint:
        return message
    sep = " " if message.endswith((".", "!", "?")) else ". "
    return f"{message}{sep}{hint}."
