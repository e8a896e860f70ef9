"""HTTP error answers of a clinvoker server as the :class:`ClinvokerError` a local run raises.

The native API answers ``{"error": {"code": "...", "message": "..."}}``; the ``code`` names the
class (``session_not_found`` → :class:`SessionNotFound`, exit 5), and the status decides when the
code is unknown (401 → :class:`AuthError`, 504 → :class:`RunTimeout`...). So ``clinvk --server``
exits with the same code as the same mistake made locally.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import msgspec

from clinvoker.errors import (
    AmbiguousSession,
    AuthError,
    BackendError,
    BackendOverloaded,
    ClinvokerError,
    Forbidden,
    RateLimited,
    RequestTooLarge,
    RunTimeout,
    UsageError,
    ValidationError,
)

if TYPE_CHECKING:
    from clinvoker.cli.remote.proxy import Proxy

__all__ = ["ServerError", "ServerUnreachable", "error_for_code", "error_for_response"]

KEY_HINT = "Set CLINVK_API_KEY (or pass --api-key) to a key this server accepts"


class ServerUnreachable(ClinvokerError):
    """No clinvoker server answers at the ``--server`` URL (refused, unknown host, timeout)."""

    code = "server_unreachable"


class ServerError(ClinvokerError):
    """The server answered something a clinvoker server would not (or broke a stream off)."""

    code = "server_error"


class _Body(msgspec.Struct):
    code: str = ""
    message: str = ""


class _ErrorAnswer(msgspec.Struct):
    error: _Body


_decoder = msgspec.json.Decoder(_ErrorAnswer)

_BY_STATUS: dict[int, type[ClinvokerError]] = {
    400: UsageError,
    401: AuthError,
    403: Forbidden,
    404: UsageError,
    405: UsageError,
    409: AmbiguousSession,
    413: RequestTooLarge,
    422: ValidationError,
    429: RateLimited,
    502: BackendError,
    503: BackendOverloaded,
    504: RunTimeout,
}


@functools.cache
def _classes() -> dict[str, type[ClinvokerError]]:
    """Every error class of the tree by its ``code``."""
    found: dict[str, type[ClinvokerError]] = {}
    pending: list[type[ClinvokerError]] = [ClinvokerError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    found.pop(ServerError.code, None)
    return found


def error_for_code(code: str, message: str, *, status: int = 0) -> ClinvokerError:
    """The exception for an error ``code`` (falling back to the HTTP ``status``)."""
    cls = _classes().get(code) or _BY_STATUS.get(status, ClinvokerError)
    return cls(message)


def error_for_response(
    status: int,
    reason: str,
    body: bytes,
    *,
    url: str,
    retry_after: str | None = None,
    proxy: Proxy | None = None,
) -> ClinvokerError:
    """The exception for a non-2xx answer of the server at ``url`` (reached through ``proxy``)."""
    try:
        answer = _decoder.decode(body)
    except msgspec.DecodeError:
        answer = None
    if answer is None or not answer.error.message:
        hint = "Check --server / CLINVK_SERVER (e.g. http://127.0.0.1:8080)"
        if proxy is not None:
            hint = (
                f"It came through the proxy {proxy.url} (from {proxy.variable}): check it, "
                "or add the server's host to NO_PROXY to go direct"
            )
        return ServerError(
            f"{url} answered HTTP {status} {reason}, which is not a clinvoker server's answer",
            hint=hint,
        )
    code, message = answer.error.code, answer.error.message
    if status == 401:
        return AuthError(f"the server at {url} refused the request: {message}", hint=KEY_HINT)
    if status == 403 and code in ("forbidden", ""):
        return Forbidden(f"the server at {url} does not allow this: {message}")
    if status == 422 and "wire_format" in message:
        return ServerError(
            f"the server at {url} is too old for clinvk --server: {message}",
            hint="Upgrade clinvoker-server there",
        )
    if code in ("not_found", "method_not_allowed"):
        return ServerError(
            f"{url} has no such API ({message})",
            hint="Check that --server points at a clinvoker server, without /api/v1",
        )
    if status == 429:
        seconds = int(retry_after) if retry_after and retry_after.isdigit() else 1
        return RateLimited(
            f"the server at {url} is rate limiting this key: {message}",
            retry_after=seconds,
            hint=f"Retry in {seconds} s",
        )
    return error_for_code(code, message, status=status)
