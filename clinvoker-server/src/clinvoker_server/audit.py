"""The audit log (``server.audit_log``, off by default): one JSON line per backend run.

Each line has ``ts``, ``request_id``, ``key`` (the key's *name*), ``backend``, ``model``,
``workdir``, ``session_id``, ``command`` (the exact command line, secrets redacted),
``duration_ms``, ``exit_code``, ``status`` (``ok``/``error``/``cancelled``), ``error_code`` and
``tokens`` (``input``, ``output``, ``cached``). Orchestrated runs (parallel, chain, compare)
have ``command: null`` and their ``route``.

Redacted as ``***``: any of the server's API keys wherever it appears (a prompt included), the
value of any flag or ``NAME=value`` argument whose name mentions a key, token, secret, password
or credential. API key values never reach the file. The file is created with mode 0600 (an
existing one is narrowed to 0600) and opened for appending; a reload may point it elsewhere.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import msgspec
from clinvoker.errors import ConfigError

if TYPE_CHECKING:
    from clinvoker.orchestrate import Outcome

__all__ = ["AuditLog", "mask_keys", "outcome_record", "redact_command"]

_SECRET_NAME = re.compile(r"key|token|secret|passw|credential|auth", re.IGNORECASE)
_ASSIGNED_NAME = re.compile(r"-{0,2}[A-Za-z0-9_.\-]+")
_WORD = re.compile(r"[^\s\"'`]+")
_TRAILING = ".,;:!?)]}>"
_encode = msgspec.json.Encoder().encode
MASK = "***"


def mask_keys(text: str, is_key: Callable[[str], bool]) -> str:
    """``text`` with every word that ``is_key`` recognises replaced by ``***``."""

    def word(match: re.Match[str]) -> str:
        found = match.group(0)
        if is_key(found):
            return MASK
        trimmed = found.rstrip(_TRAILING)
        if trimmed != found and is_key(trimmed):
            return MASK + found[len(trimmed) :]
        return found

    return _WORD.sub(word, text)


def _secret_assignment(token: str) -> str | None:
    """``NAME=***`` (or ``--name=***``) when ``token`` assigns a secret-looking name."""
    name, eq, _ = token.partition("=")
    if eq and _ASSIGNED_NAME.fullmatch(name) and _SECRET_NAME.search(name):
        return f"{name}={MASK}"
    return None


def redact_command(argv: Sequence[str], is_key: Callable[[str], bool]) -> str:
    """``argv`` as one shell-quoted line with secrets replaced by ``***``."""
    out: list[str] = []
    hide_next = False
    for token in argv:
        if hide_next:
            hide_next = False
            if not token.startswith("-"):
                out.append(MASK)
                continue
        assigned = _secret_assignment(token)
        if assigned is not None:
            out.append(assigned)
            continue
        if token.startswith("--") and _SECRET_NAME.search(token):
            hide_next = True
        out.append(mask_keys(token, is_key))
    return shlex.join(out)


class AuditLog:
    """An append-only JSON-lines file, or nothing when no path is configured."""

    def __init__(self) -> None:
        self.path = ""
        self._file: IO[str] | None = None

    def configure(self, path: str) -> None:
        """Write to ``path`` from now on (``""`` = no audit log).

        :raises ConfigError: the file cannot be opened (the previous file stays in use).
        """
        path = os.path.expanduser(path) if path else ""
        if path == self.path:
            return
        new: IO[str] | None = None
        if path:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                os.fchmod(fd, 0o600)
            except OSError as exc:
                raise ConfigError(
                    f"cannot open server.audit_log {path!r}: {exc.strerror or exc}",
                    hint="check that its directory exists and is writable",
                ) from None
            new = os.fdopen(fd, "a", encoding="utf-8")
        old, self._file, self.path = self._file, new, path
        if old is not None:
            old.close()

    def write(self, record: dict[str, Any]) -> None:
        """Append one line (a no-op without a file)."""
        if self._file is None:
            return
        line = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        self._file.write(_encode(line).decode() + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file (at shutdown)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self.path = ""


def outcome_record(
    outcome: Outcome, *, key: str, request_id: str | None, route: str
) -> dict[str, Any]:
    """The audit-log line of one run of an orchestration (its command is not known here)."""
    usage = outcome.usage
    return {
        "request_id": request_id,
        "key": key,
        "route": route,
        "backend": outcome.backend,
        "model": outcome.model,
        "workdir": outcome.workdir,
        "session_id": outcome.clinvk_session_id,
        "command": None,
        "duration_ms": round(outcome.duration_s * 1000, 3),
        "exit_code": outcome.exit_code,
        "status": "ok" if outcome.ok else "error",
        "error_code": outcome.error_code,
        "tokens": {
            "input": usage.input_tokens if usage else 0,
            "output": usage.output_tokens if usage else 0,
            "cached": usage.cached_tokens if usage else 0,
        },
    }
