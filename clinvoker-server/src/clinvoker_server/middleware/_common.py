"""Helpers the middleware share: per-request state in the ASGI scope, and rejections."""

from __future__ import annotations

from typing import Any

from clinvoker.errors import ClinvokerError
from starlette.types import Receive, Scope, Send

from clinvoker_server.errors import family_for_path
from clinvoker_server.jsonio import error_response

__all__ = ["header", "reject", "state"]


def state(scope: Scope) -> dict[str, Any]:
    """The per-request state dict (``request.state`` in Starlette)."""
    st: dict[str, Any] = scope.setdefault("state", {})
    return st


def header(scope: Scope, name: bytes) -> str:
    """The first value of header ``name`` (lower-case bytes), '' if absent."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def reject(scope: Scope, receive: Receive, send: Send, exc: ClinvokerError) -> None:
    """Answer the request with ``exc`` in its API family's error shape."""
    request_id = state(scope).get("request_id")
    response = error_response(exc, family_for_path(scope.get("path", "/")), request_id)
    await response(scope, receive, send)
