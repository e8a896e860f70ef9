"""Errors as each API family shows them: one mapping per family from the ``ClinvokerError`` tree.

The family of a request is decided by its path (:func:`family_for_path`), so middleware that
rejects a request (401, 413, 429...) answers in the same shape as the route would have::

    native     {"error": {"code": "unknown_backend", "message": "...", "request_id": "..."}}
    openai     {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "..."}}
    anthropic  {"type": "error", "error": {"type": "not_found_error", "message": "..."}, "request_id": "..."}

Statuses come from the exception class (``http_status``); the only per-family twist is that the
Anthropic API reports an overloaded server as 529 ``overloaded_error``. Every 429 carries a small
integer ``Retry-After`` and ``retry-after-ms``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec
from clinvoker.errors import (
    AuthError,
    BackendOverloaded,
    ClinvokerError,
    Forbidden,
    RateLimited,
    UnknownBackend,
    UsageError,
)

__all__ = [
    "AnthropicErrorBody",
    "Family",
    "MethodNotAllowed",
    "NativeErrorBody",
    "OpenAIErrorBody",
    "RouteNotFound",
    "UnknownModel",
    "error_body",
    "error_headers",
    "error_status",
    "family_for_path",
    "invalid_field",
    "stream_error_kind",
]


class Family(Enum):
    """The API family a path belongs to; decides the error shape."""

    NATIVE = "native"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


def family_for_path(path: str) -> Family:
    """``/openai/...`` → OpenAI, ``/anthropic/...`` → Anthropic, anything else → native."""
    if path.startswith("/openai/") or path == "/openai":
        return Family.OPENAI
    if path.startswith("/anthropic/") or path == "/anthropic":
        return Family.ANTHROPIC
    return Family.NATIVE


class UnknownModel(UsageError):
    """The model id is not one the server routes (see ``GET .../models``)."""

    http_status = 404
    code = "model_not_found"


class RouteNotFound(UsageError):
    """No route matches the path."""

    http_status = 404
    code = "not_found"


class MethodNotAllowed(UsageError):
    """The route exists but not for this HTTP method."""

    http_status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


def invalid_field(
    message: str, param: str | None = None, *, cls: type[UsageError] = UsageError
) -> UsageError:
    """A request-field error that remembers which field (``param`` in OpenAI errors)."""
    exc = cls(message)
    exc.param = param  # type: ignore[attr-defined]
    return exc


# -- statuses ---------------------------------------------------------------------------------


def error_status(exc: ClinvokerError, family: Family) -> int:
    """The HTTP status for ``exc`` in ``family``."""
    if family is Family.ANTHROPIC and isinstance(exc, BackendOverloaded):
        return 529
    status = exc.http_status
    return 500 if status == 499 else status


def error_headers(exc: ClinvokerError) -> dict[str, str]:
    """Extra headers: ``Retry-After``/``retry-after-ms`` on 429, ``WWW-Authenticate`` on 401, ``Allow`` on 405."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["retry-after"] = str(exc.retry_after)
        ms = getattr(exc, "retry_after_ms", None)
        headers["retry-after-ms"] = str(ms if ms is not None else exc.retry_after * 1000)
    elif isinstance(exc, BackendOverloaded):
        headers["retry-after"] = "1"
    elif isinstance(exc, AuthError) and not isinstance(exc, Forbidden):
        headers["www-authenticate"] = "Bearer"
    elif isinstance(exc, MethodNotAllowed) and exc.allowed:
        headers["allow"] = ", ".join(exc.allowed)
    return headers


# -- bodies -------------------------------------------------------------------------------------


class _NativeError(msgspec.Struct, kw_only=True, omit_defaults=True):
    code: str
    message: str
    request_id: str | None = None
    hint: str | None = None


class NativeErrorBody(msgspec.Struct, kw_only=True):
    """The native API's error body."""

    error: _NativeError


class _OpenAIError(msgspec.Struct, kw_only=True):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(msgspec.Struct, kw_only=True):
    """OpenAI's ``ErrorResponse``: all four keys always present."""

    error: _OpenAIError


class _AnthropicError(msgspec.Struct, kw_only=True):
    type: str
    message: str


class AnthropicErrorBody(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag="error", tag_field="type"
):
    """Anthropic's error body, ``{"type":"error","error":{type,message},"request_id"}``."""

    error: _AnthropicError
    request_id: str | None = None


# Each family's error ``type`` for a status (from :func:`error_status`): the family's own words,
# which the exception cannot know; a status not listed is the family's catch-all.
_OPENAI_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_CATCH_ALL = {
    Family.NATIVE: "server_error",
    Family.OPENAI: "server_error",
    Family.ANTHROPIC: "api_error",
}
# Inside a stream (the status line is long gone) only these types are told apart.
_STREAM_TYPES = {
    Family.NATIVE: frozenset({"rate_limit_error"}),
    Family.OPENAI: frozenset({"rate_limit_error"}),
    Family.ANTHROPIC: frozenset({"overloaded_error", "rate_limit_error", "timeout_error"}),
}


def _error_type(exc: ClinvokerError, family: Family) -> str:
    """The OpenAI / Anthropic error ``type`` for ``exc``."""
    types = _ANTHROPIC_TYPES if family is Family.ANTHROPIC else _OPENAI_TYPES
    return types.get(error_status(exc, family), _CATCH_ALL[family])


def _openai_code(exc: ClinvokerError) -> str:
    if isinstance(exc, AuthError) and not isinstance(exc, Forbidden):
        return "invalid_api_key"
    if isinstance(exc, RateLimited):
        return "rate_limit_exceeded"
    if isinstance(exc, UnknownModel | UnknownBackend):
        return "model_not_found"
    return exc.code


def error_body(exc: ClinvokerError, family: Family, request_id: str | None) -> Any:
    """The body struct for ``exc`` in ``family`` (encode it with msgspec)."""
    message = str(exc)
    if family is Family.OPENAI:
        kind = _error_type(exc, family)
        param = getattr(exc, "param", None)
        return OpenAIErrorBody(
            error=_OpenAIError(message=message, type=kind, param=param, code=_openai_code(exc))
        )
    if family is Family.ANTHROPIC:
        return AnthropicErrorBody(
            error=_AnthropicError(type=_error_type(exc, family), message=message),
            request_id=request_id,
        )
    return NativeErrorBody(
        error=_NativeError(code=exc.code, message=message, request_id=request_id)
    )


def stream_error_kind(exc: ClinvokerError, family: Family) -> str:
    """The ``type`` an error gets inside an OpenAI or Anthropic stream: the body's type where the
    stream tells it apart (rate limit; overloaded, timeout for Anthropic), else the catch-all
    (``server_error`` / ``api_error``)."""
    kind = _error_type(exc, family)
    return kind if kind in _STREAM_TYPES[family] else _CATCH_ALL[family]
