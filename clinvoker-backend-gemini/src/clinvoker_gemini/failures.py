"""What gemini says when something goes wrong, turned into one clear message and a stable code.

Gemini reports failures in several places depending on the output format and on how early it
failed: a ``result`` event with ``status:"error"`` (stream-json), an ``{"error": {...}}`` object
on stdout or — after a stack trace — on stderr (json), plain stderr lines (text), and its exit
code (41 auth, 42 input, 52 config, 53 turn limit, 54 tool, 55 untrusted folder, or the HTTP
status of the failed API call modulo 256). Every function here is pure.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

__all__ = [
    "Failure",
    "code_for_exit",
    "describe",
    "from_stderr",
    "strip_ansi",
]


class Failure(msgspec.Struct, frozen=True):
    """A failure as the user should see it: the CLI's own message (plus a hint) and a stable code."""

    message: str
    code: str


_json = msgspec.json.Decoder()

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_API_ERROR = re.compile(r"\[API Error: (?P<inner>.*)\]")
_TALKING = re.compile(
    r"Error when talking to Gemini API(?: Full report available at: \S+)?\s+"
    r"(?P<name>[A-Za-z_$][\w$]*): (?P<message>.*)"
)

_EXIT_CODES: dict[int, str] = {
    41: "authentication_failed",
    42: "invalid_request",
    44: "sandbox_failed",
    52: "config_error",
    53: "max_turns",
    54: "tool_failed",
    55: "permission_denied",
    130: "cancelled",
}

_HTTP_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "authentication_failed",
    403: "permission_denied",
    404: "model_not_found",
    429: "rate_limited",
}

# (lower-cased needle, code); first match wins.
_MESSAGE_CODES: tuple[tuple[str, str], ...] = (
    ("stream ended without a finish reason", "incomplete_response"),
    ("max session turns", "max_turns"),
    ("maximum session turns", "max_turns"),
    ("loop detected", "loop_detected"),
    ("is not found for api version", "model_not_found"),
    ("modelnotfounderror", "model_not_found"),
    ("resource has been exhausted", "rate_limited"),
    ("resource_exhausted", "rate_limited"),
    ("unauthenticated", "authentication_failed"),
    ("api key not valid", "authentication_failed"),
    ("gemini_api_key", "authentication_failed"),
    ("invalid auth method", "authentication_failed"),
    ("permission_denied", "permission_denied"),
    ("not running in a trusted directory", "permission_denied"),
    ("invalid session identifier", "session_not_found"),
    ("error resuming session", "session_not_found"),
    ("fetch failed", "connection_failed"),
    ("econnrefused", "connection_failed"),
    ("enotfound", "connection_failed"),
    ("etimedout", "connection_failed"),
    ("in json at position", "server_error"),
    ("unexpected end of json", "server_error"),
    ("unexpected token", "server_error"),
    ("internal error", "server_error"),
    ("operation cancelled", "cancelled"),
)

_BAD_JSON = ("in json at position", "unexpected end of json", "unexpected token")

_HINTS: dict[str, str] = {
    "authentication_failed": (
        "Check GEMINI_API_KEY (or log in by running `gemini` once) and "
        "security.auth.selectedType in ~/.gemini/settings.json"
    ),
    "rate_limited": "Wait a moment and retry, or choose another model",
    "model_not_found": "Check the model name (-m); unknown names are passed to gemini unchanged",
    "session_not_found": (
        "Gemini keeps sessions per working directory: resume from the directory the session "
        "was started in, or start a new one"
    ),
    "incomplete_response": "The answer was cut off before the model finished; retry the request",
    "connection_failed": "Check the network connection (and GOOGLE_GEMINI_BASE_URL if it is set)",
    "server_error": "The Gemini API failed; retry later",
    "loop_detected": "Gemini stopped the model because it kept repeating itself; rephrase and retry",
}

# Lines gemini prints on stderr on every run; never the reason for a failure.
_NOISE = (
    "Warning: 256-color support not detected",
    "Ripgrep is not available",
    "[STARTUP]",
    "YOLO mode is enabled",
    "Loaded cached credentials",
    "Warning: --allowed-tools",
    "An unexpected critical error occurred",
    "Attempt ",
)


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour escapes."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def code_for_exit(exit_code: int) -> str | None:
    """The stable code gemini's exit status implies, if any (HTTP status mod 256 included)."""
    if exit_code in _EXIT_CODES:
        return _EXIT_CODES[exit_code]
    for status in (*_HTTP_CODES, 500, 502, 503, 504, 529):
        if exit_code == status % 256:
            return _code_for_http(status)
    return None


def _code_for_http(status: int) -> str | None:
    if status in _HTTP_CODES:
        return _HTTP_CODES[status]
    return "server_error" if 500 <= status <= 599 else None


def _code_for_message(text: str) -> str | None:
    low = text.lower()
    for needle, code in _MESSAGE_CODES:
        if needle in low:
            return code
    return None


def _unwrap_api_json(text: str) -> tuple[str, int | None, str | None]:
    """``{"error":{"code":401,"message":"...","status":"..."}}`` -> (message, 401, status)."""
    start, end = text.find('{"error"'), text.rfind("}")
    if start < 0 or end < start:
        return text, None, None
    try:
        obj = _json.decode(text[start : end + 1])
    except msgspec.DecodeError:
        return text, None, None
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        return text, None, None
    code = err.get("code")
    status = err.get("status")
    return (
        err["message"],
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        status if isinstance(status, str) else None,
    )


def with_hint(message: str, code: str) -> str:
    """``message`` followed by what to do about a failure of kind ``code`` (if we know)."""
    hint = _HINTS.get(code)
    if not hint or hint in message:
        return message
    message = message.rstrip()
    return f"{message} {hint}." if message.endswith((".", "!", "?")) else f"{message}. {hint}."


def describe(
    message: str,
    *,
    error_type: str | None = None,
    status: Any = None,
    exit_code: int | None = None,
) -> Failure:
    """A :class:`Failure` from an error gemini reported itself.

    :param message: gemini's message (``[API Error: ...]`` wrappers and the API's JSON error
        bodies are unwrapped).
    :param error_type: gemini's error class name (``ModelNotFoundError``, ``INVALID_STREAM``...).
    :param status: the ``code`` gemini put beside the error (an HTTP status or an exit code).
    :param exit_code: the process exit code, when known.
    """
    text = strip_ansi(message).strip()
    if "no input provided" in text.lower():
        return Failure(
            "gemini was given an empty prompt. Pass a prompt: gemini cannot run, or continue "
            "a session, without a new message",
            "invalid_request",
        )
    first, _, rest = text.partition("\n")
    wrapped = _API_ERROR.fullmatch(first)
    if wrapped:
        first = wrapped["inner"]
    first, http, api_status = _unwrap_api_json(first)
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        http = http or status
    code = (
        (_code_for_http(http) if http else None)
        or _code_for_message(f"{error_type or ''} {api_status or ''} {text}")
        or (code_for_exit(status) if isinstance(status, int) and status > 1 else None)
        or (code_for_exit(exit_code) if exit_code else None)
        or "backend_error"
    )
    if error_type == "INVALID_STREAM":
        code = "incomplete_response"
    shown = first.strip()
    if code == "connection_failed":
        shown = f"Could not reach the Gemini API: {shown}"
    elif any(n in shown.lower() for n in _BAD_JSON):
        shown = f"The Gemini API sent a response that is not valid JSON: {shown}"
    if http:
        shown = f"API error {http}{' ' + api_status if api_status else ''}: {shown}"
    tail = " ".join(line.strip() for line in rest.splitlines() if line.strip())
    if tail:  # gemini's own advice; ours would repeat it
        shown = f"{shown} {tail}" if shown.endswith((".", "!", "?")) else f"{shown}. {tail}"
        return Failure(shown, code)
    return Failure(with_hint(shown or "gemini failed without a message", code), code)


def _trailing_json_error(text: str) -> dict[str, Any] | None:
    """The ``{"session_id":..., "error":{...}}`` object gemini prints last on stderr in json mode."""
    pos = len(text)
    while True:
        pos = text.rfind("{", 0, pos)
        if pos < 0:
            return None
        if pos == 0 or text[pos - 1] == "\n":
            try:
                obj = _json.decode(text[pos:].strip())
            except msgspec.DecodeError:
                pass
            else:
                if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
                    return obj
                return None


def stderr_session_id(stderr: str) -> str | None:
    """The session id in gemini's json-mode error object on stderr, if there is one."""
    obj = _trailing_json_error(stderr)
    sid = obj.get("session_id") if obj else None
    return sid if isinstance(sid, str) and sid else None


def _meaningful(line: str) -> bool:
    s = line.strip()
    if not s or s in ("{", "}", "},", "]") or s.startswith(("at ", "status:", "code:", '"')):
        return False
    return not any(s.startswith(n) for n in _NOISE)


def from_stderr(stderr: str, exit_code: int) -> Failure | None:
    """The failure gemini described on stderr, or ``None`` if stderr shows none.

    With ``exit_code == 0`` only explicit ``[ERROR]`` lines count (gemini exits 0 when the model
    stream ends early); otherwise the most specific line wins and the last meaningful line is
    the fallback.
    """
    text = strip_ansi(stderr)
    lines = text.splitlines()
    errors = [
        ln.strip()[len("[ERROR]") :].strip() for ln in lines if ln.strip().startswith("[ERROR]")
    ]
    if exit_code == 0:
        return describe(errors[-1]) if errors else None
    obj = _trailing_json_error(text)
    if obj is not None:
        err = obj["error"]
        msg = err.get("message")
        if isinstance(msg, str) and msg:
            etype = err.get("type")
            return describe(
                msg,
                error_type=etype if isinstance(etype, str) else None,
                status=err.get("code"),
                exit_code=exit_code,
            )
    for line in reversed(lines):
        m = _TALKING.search(line)
        if m:
            return describe(m["message"], error_type=m["name"].lstrip("_"), exit_code=exit_code)
    usage = next((i for i, ln in enumerate(lines) if ln.startswith("Usage: gemini")), None)
    if usage is not None:
        before = " ".join(ln.strip() for ln in lines[:usage] if _meaningful(ln))
        if before:
            return Failure(f"gemini rejected its arguments: {before}", "invalid_request")
    for prefix in ("Error resuming session:", "Error starting session:", "Error:"):
        for line in lines:
            if line.strip().startswith(prefix):
                return describe(line.strip(), exit_code=exit_code)
    if errors:
        return describe(errors[-1], exit_code=exit_code)
    attempts = [ln for ln in lines if ln.startswith("Attempt ")]
    if attempts:  # killed while gemini was still retrying
        return describe(attempts[-1], exit_code=exit_code)
    block: list[str] = []
    for line in reversed(lines):
        if _meaningful(line):
            block.insert(0, line.strip())
        elif block:
            break
    return describe("\n".join(block[-4:]), exit_code=exit_code) if block else None
