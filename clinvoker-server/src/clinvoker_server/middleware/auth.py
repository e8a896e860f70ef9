"""API-key authentication for every route except ``/health``.

With keys configured, everything else — HEAD, non-preflight OPTIONS, ``/metrics``, ``/docs``,
``/openapi.json``, unknown paths — needs a key (the path was normalised by the request-id
middleware, so ``//health/../api/v1/sessions`` is not ``/health``). The authenticated
:class:`~clinvoker_server.auth.Principal` is put in the request state. When a key source
failed (the server fails closed) every request but ``GET /health`` gets 503.
"""

from __future__ import annotations

from collections.abc import Callable

from clinvoker.errors import ClinvokerError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from clinvoker_server.auth import ANONYMOUS, KeyRing, presented_key
from clinvoker_server.middleware._common import reject, state

__all__ = ["OPEN_PATHS", "AuthMiddleware"]

OPEN_PATHS = frozenset({"/health"})


class AuthMiddleware:
    """Checks the presented key against the current key ring (``keys`` is called per request)."""

    def __init__(self, app: ASGIApp, *, keys: Callable[[], KeyRing]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st = state(scope)
        keyring = self.keys()
        if not keyring.enabled or (
            scope["path"] in OPEN_PATHS and scope["method"] in ("GET", "HEAD")
        ):
            st["principal"] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        try:
            st["principal"] = keyring.authenticate(presented_key(Headers(scope=scope)))
        except ClinvokerError as exc:  # AuthError, or KeysUnavailable when a key source failed
            await reject(scope, receive, send, exc)
            return
        await self.app(scope, receive, send)
