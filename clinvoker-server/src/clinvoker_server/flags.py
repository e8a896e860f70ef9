"""Which extra CLI flags an API request may pass (``extra``), per backend (the Go allowlist).

The command line and the config's ``extra_flags`` are trusted; a remote API caller is not, so
only these flag names are accepted (case-insensitive, ``--flag=value`` or ``--flag value``).
A bare value is accepted only right after a flag that takes one.
"""

from __future__ import annotations

from collections.abc import Sequence

from clinvoker.errors import ValidationError

from clinvoker_server.errors import invalid_field

__all__ = ["check_extra_flags"]

_COMMON = {"-v", "-m", "-o", "-q", "-h", "--help", "--version"}
_ALLOWED: dict[str, set[str]] = {
    "claude": {
        "--model",
        "--print",
        "--output-format",
        "--verbose",
        "--max-turns",
        "--system-prompt",
        "--permission-mode",
        "--resume",
        "--add-dir",
        "--allowedtools",
        "--allowed-tools",
        "--no-session-persistence",
        "--continue",
    },
    "codex": {
        "--model",
        "--json",
        "--sandbox",
        "--ask-for-approval",
        "--full-auto",
        "--quiet",
        "--config-dir",
    },
    "gemini": {
        "--model",
        "--output-format",
        "--sandbox",
        "--approval-mode",
        "--yolo",
        "--debug",
        "--color",
        "--disable-color",
    },
}
_BOOLEAN = {
    "--verbose",
    "--print",
    "--no-session-persistence",
    "--continue",
    "--json",
    "--full-auto",
    "--quiet",
    "--yolo",
    "--debug",
    "--color",
    "--disable-color",
    "-v",
    "-q",
    "-h",
    "--help",
    "--version",
}


def check_extra_flags(backend: str, flags: Sequence[str], param: str = "extra") -> tuple[str, ...]:
    """``flags`` if every one is allowed for ``backend``, else a 422 naming the first bad one."""
    allowed = _ALLOWED.get(backend, set()) | _COMMON
    expect_value = False
    for i, token in enumerate(flags):
        if not token.startswith("-"):
            if expect_value:
                expect_value = False
                continue
            raise invalid_field(
                f"invalid flag format: {token!r} (must start with - or --)",
                f"{param}[{i}]",
                cls=ValidationError,
            )
        name, has_value, _ = token.partition("=")
        if name.lower() not in allowed:
            raise invalid_field(
                f"flag not allowed for {backend}: {token}",
                f"{param}[{i}]",
                cls=ValidationError,
            )
        expect_value = not has_value and name.lower() not in _BOOLEAN
    return tuple(flags)
