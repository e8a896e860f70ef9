"""API keys: how a request presents one, who it is, and what that key may do.

The keys themselves are gathered by :mod:`clinvoker_server.keysources` into a :class:`KeyRing`.
A request presents a key as ``Authorization: Bearer <key>`` or ``x-api-key: <key>``; it is
compared with *every* configured key using :func:`hmac.compare_digest` over SHA-256 digests (no
early exit, no length leak). With no key source configured, authentication is off.

A *named* key (``server.keys``, or ``name:key`` in a key list) is a :class:`Principal` with an
:class:`~clinvoker.config_schema.ApiKeyPolicy`: its sessions are its own, and the policy limits
its backends, models, access, working directories, concurrency and rate. Unnamed keys share one
identity, like a server without keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import msgspec
from clinvoker.errors import AuthError, ClinvokerError, Forbidden

if TYPE_CHECKING:
    from clinvoker.backend import Backend
    from clinvoker.config_schema import ApiKeyPolicy

__all__ = ["ANONYMOUS", "KeyRing", "KeysUnavailable", "Principal", "presented_key"]


class KeysUnavailable(ClinvokerError):
    """A key source failed, so the server refuses every request until a reload succeeds (503)."""

    http_status = 503
    code = "keys_unavailable"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a request: a key's display name (never the key) and its policy, if any."""

    name: str
    policy: ApiKeyPolicy | None = None
    authenticated: bool = False

    @property
    def owner(self) -> str | None:
        """Session owner: the name of a named key, else ``None`` (sessions are shared)."""
        return self.policy.name if self.policy is not None else None

    @property
    def read_only(self) -> bool:
        """Whether this key's runs are read-only (``access: read-only``)."""
        return self.policy is not None and self.policy.access == "read-only"

    @property
    def roots(self) -> tuple[str, ...]:
        """The key's ``workdir_roots`` (empty = no restriction beyond the server's)."""
        return tuple(self.policy.workdir_roots) if self.policy is not None else ()

    def check_backend(self, backend: str) -> None:
        """Raise :class:`Forbidden` if this key may not use ``backend``."""
        if self.policy and self.policy.backends and backend not in self.policy.backends:
            allowed = ", ".join(self.policy.backends)
            raise _forbidden(
                f"API key {self.name!r} may not use backend {backend!r}",
                f"it may use: {allowed}",
                "backend",
            )

    def check_model(
        self,
        model_id: str | None,
        *,
        backend: Backend | None = None,
        model: str | None = None,
    ) -> None:
        """Raise :class:`Forbidden` if this key may not use the model.

        ``model_id`` is the id as a compatible API names it (``claude/sonnet``, ``claude``, an
        alias); for a native request pass ``backend`` and its ``model`` (``None`` = the
        backend's default). The key's ``models`` may name any of these forms; an alias a backend
        resolves (``fast``) matches its full model name too.
        """
        if self.policy is None or not self.policy.models:
            return
        allowed = set(self.policy.models)
        if allowed & _model_names(model_id, backend, model):
            return
        shown = model_id or (f"{backend.name}/{model}" if backend and model else None)
        shown = shown or (f"the default model of {backend.name!r}" if backend else "this model")
        raise _forbidden(
            f"API key {self.name!r} may not use model {shown!r}",
            f"it may use: {', '.join(self.policy.models)}",
            "model",
        )

    def check_delete(self) -> None:
        """Raise :class:`Forbidden` when a read-only key tries to delete a session."""
        if self.read_only:
            raise _forbidden(
                f"API key {self.name!r} is read-only and cannot delete sessions",
                "use a key with access: full",
                None,
            )


def _model_names(model_id: str | None, backend: Backend | None, model: str | None) -> set[str]:
    names = {model_id} if model_id else set()
    if backend is not None:
        if not model:
            names.add(backend.name)
        effective = model or backend.default_model
        if effective:
            resolved = backend.resolve_model(effective) or effective
            for name in {effective, resolved}:
                names |= {name, f"{backend.name}/{name}"}
    return names


def _forbidden(message: str, hint: str, param: str | None) -> Forbidden:
    exc = Forbidden(message, hint=hint)
    exc.param = param  # type: ignore[attr-defined]
    return exc


ANONYMOUS = Principal(name="anonymous")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


class KeyRing:
    """The configured keys, as digests, each with its principal.

    :param enabled: authentication is on even with no key (a key file that lists none refuses
        everybody rather than letting everybody in); default: on when there is a key.
    :param error: why the keys are unavailable (a key command failed); every request is then
        refused with :class:`KeysUnavailable` — the server fails closed.
    """

    def __init__(
        self,
        entries: Iterable[tuple[str, Principal]] = (),
        *,
        enabled: bool | None = None,
        error: str | None = None,
    ) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        seen: set[bytes] = set()
        for secret, principal in entries:
            digest = _digest(secret)
            if digest not in seen:
                seen.add(digest)
                self._entries.append((digest, principal))
        self._digests = frozenset(seen)
        self.error = error
        self.enabled = bool(self._entries) or bool(enabled) or error is not None

    def __len__(self) -> int:
        return len(self._entries)

    def is_key(self, text: str) -> bool:
        """Whether ``text`` is one of the keys (for redaction; not constant-time)."""
        return bool(text) and _digest(text) in self._digests

    def authenticate(self, presented: str | None) -> Principal:
        """The principal of ``presented``, or :class:`AuthError` (missing / invalid key) or
        :class:`KeysUnavailable` (the key source failed)."""
        if self.error is not None:
            raise KeysUnavailable(
                f"the server's API keys are unavailable ({self.error}), so every request is refused",
                hint="the operator must fix the key source and reload the server (SIGHUP)",
            )
        if not self.enabled:
            return ANONYMOUS
        if not presented:
            raise AuthError(
                "missing API key",
                hint="send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
            )
        digest = _digest(presented)
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(digest, known) and found is None:
                found = principal
        if found is None:
            raise AuthError("invalid API key", hint="check the key the server was configured with")
        return found


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request presents: ``x-api-key``, else ``Authorization: Bearer``."""
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    auth = headers.get("authorization", "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None
