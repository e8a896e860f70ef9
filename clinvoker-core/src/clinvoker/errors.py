"""The one exception tree of clinvoker.

Every error a user can see is a :class:`ClinvokerError`. Each class carries the process exit code
the CLI uses and the HTTP status the server uses, so every surface maps errors in exactly one place::

    ClinvokerError                      exit 1   HTTP 500
    ├── UsageError                      exit 2   HTTP 400   bad flag, bad request field
    │   └── ValidationError             exit 2   HTTP 422   well-formed but invalid value
    ├── ConfigError                     exit 3   HTTP 500   invalid config file or env var
    ├── BackendError                    exit 1   HTTP 502   a backend CLI failed
    │   ├── UnknownBackend              exit 2   HTTP 404   no backend of that name is installed
    │   ├── BackendUnavailable          exit 4   HTTP 503   the CLI's executable is missing
    │   ├── BackendCrashed              exit 1   HTTP 502   the CLI exited abnormally / malformed output
    │   └── BackendOverloaded           exit 1   HTTP 503   concurrency cap and queue are full
    ├── SessionError                    exit 5   HTTP 500   session store problem
    │   ├── SessionNotFound             exit 5   HTTP 404
    │   └── AmbiguousSession            exit 5   HTTP 409
    ├── AuthError                       exit 1   HTTP 401   missing or wrong API key
    │   └── Forbidden                   exit 1   HTTP 403   key not allowed to do this
    ├── RateLimited                     exit 1   HTTP 429   carries retry_after seconds
    ├── RequestTooLarge                 exit 2   HTTP 413
    ├── RunTimeout                      exit 124 HTTP 504   the run exceeded its timeout
    └── Cancelled                       exit 130 HTTP 499   interrupted (Ctrl-C, client gone)

Messages say what was wrong and what to do about it.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AmbiguousSession",
    "AuthError",
    "BackendCrashed",
    "BackendError",
    "BackendOverloaded",
    "BackendUnavailable",
    "Cancelled",
    "ClinvokerError",
    "ConfigError",
    "Forbidden",
    "RateLimited",
    "RequestTooLarge",
    "RunTimeout",
    "SessionError",
    "SessionNotFound",
    "UnknownBackend",
    "UsageError",
    "ValidationError",
]


class ClinvokerError(Exception):
    """Base of every error clinvoker raises on purpose.

    ``exit_code`` is what ``clinvk`` exits with; ``http_status`` what the server answers;
    ``code`` a stable machine-readable string used in JSON error bodies.
    """

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return (
                f"{self.message}. {self.hint}"
                if not self.message.endswith(".")
                else f"{self.message} {self.hint}"
            )
        return self.message


class UsageError(ClinvokerError):
    """The caller asked for something malformed: a bad flag, a missing field."""

    exit_code = 2
    http_status = 400
    code = "invalid_request"


class ValidationError(UsageError):
    """The request is well-formed but a value is not allowed."""

    http_status = 422
    code = "validation_error"


class ConfigError(ClinvokerError):
    """The configuration (file or ``CLINVK_*`` environment) is invalid."""

    exit_code = 3
    http_status = 500
    code = "config_error"


class BackendError(ClinvokerError):
    """A backend CLI could not run or reported a failure."""

    exit_code = 1
    http_status = 502
    code = "backend_error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        backend: str | None = None,
        backend_exit_code: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.backend = backend
        self.backend_exit_code = backend_exit_code


class UnknownBackend(BackendError):
    """No backend of that name is registered."""

    exit_code = 2
    http_status = 404
    code = "unknown_backend"


class BackendUnavailable(BackendError):
    """The backend is registered but its executable cannot be found or started."""

    exit_code = 4
    http_status = 503
    code = "backend_unavailable"


class BackendCrashed(BackendError):
    """The backend CLI died, or printed output that cannot be understood."""

    code = "backend_crashed"


class BackendOverloaded(BackendError):
    """Too many runs are in flight for this backend and the wait queue is full."""

    http_status = 503
    code = "overloaded"


class SessionError(ClinvokerError):
    """The session store failed (unreadable, read-only, full disk...)."""

    exit_code = 5
    http_status = 500
    code = "session_error"


class SessionNotFound(SessionError):
    """No session matches the given id or prefix."""

    http_status = 404
    code = "session_not_found"


class AmbiguousSession(SessionError):
    """A session id prefix matches more than one session."""

    http_status = 409
    code = "ambiguous_session"


class AuthError(ClinvokerError):
    """Missing or invalid API key."""

    http_status = 401
    code = "unauthorized"


class Forbidden(AuthError):
    """The API key is valid but its policy does not allow this request."""

    http_status = 403
    code = "forbidden"


class RateLimited(ClinvokerError):
    """Too many requests; retry after ``retry_after`` seconds."""

    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 1, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = max(1, retry_after)


class RequestTooLarge(ClinvokerError):
    """The request body exceeds the configured limit."""

    exit_code = 2
    http_status = 413
    code = "request_too_large"


class RunTimeout(ClinvokerError):
    """A run took longer than its timeout and was stopped."""

    exit_code = 124
    http_status = 504
    code = "timeout"


class Cancelled(ClinvokerError):
    """A run was interrupted (Ctrl-C, client disconnect, shutdown)."""

    exit_code = 130
    http_status = 499
    code = "cancelled"
