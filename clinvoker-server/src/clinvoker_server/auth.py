"""API keys: where they come from, how a request presents one, and what a key may do.

Keys are gathered once at start-up from, in order:

* ``server.api_keys`` (config) and ``CLINVK_API_KEYS`` (comma separated);
* ``server.api_keys_file`` — one key per line, ``#`` comments and blank lines ignored;
* ``server.api_keys_command`` — a command whose output lines (or commas) are keys;
* ``server.api_keys_gopass_path`` / ``CLINVK_API_KEYS_GOPASS_PATH`` — ``gopass show --password``;
* ``server.keys`` — named keys with a policy (allowed backends and models, read-only access,
  workdir roots, their own concurrency and rate limits).

With no key at all, authentication is off. ``api_keys_file`` is watched: rotating keys in it
takes effect within a second, without a restart (:class:`KeySource`). A request presents a key as ``Authorization: Bearer
<key>`` or ``x-api-key: <key>``; it is compared with *every* configured key using
:func:`hmac.compare_digest` over SHA-256 digests (no early exit, no length leak).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from clinvoker.errors import AuthError, ConfigError, Forbidden

if TYPE_CHECKING:
    from clinvoker.config_schema import ApiKeyPolicy, ServerConfig

__all__ = ["ANONYMOUS", "KeyRing", "KeySource", "Principal", "load_keyring"]

log = logging.getLogger("clinvoker_server")

_GOPASS_PATH = re.compile(r"^[A-Za-z0-9/_.\-]+$")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a request: a key's display name (never the key) and its policy, if any."""

    name: str
    policy: ApiKeyPolicy | None = None
    authenticated: bool = False

    @property
    def owner(self) -> str | None:
        """Session owner: the name of a named key, else ``None`` (sessions are shared)."""
        return self.policy.name if self.policy is not None else None

    def check_backend(self, backend: str) -> None:
        """Raise :class:`Forbidden` if this key may not use ``backend``."""
        if self.policy and self.policy.backends and backend not in self.policy.backends:
            allowed = ", ".join(self.policy.backends)
            raise Forbidden(
                f"API key {self.name!r} may not use backend {backend!r}",
                hint=f"it may use: {allowed}",
            )

    def check_model(self, model_id: str) -> None:
        """Raise :class:`Forbidden` if this key may not use ``model_id``."""
        if self.policy and self.policy.models and model_id not in self.policy.models:
            allowed = ", ".join(self.policy.models)
            raise Forbidden(
                f"API key {self.name!r} may not use model {model_id!r}",
                hint=f"it may use: {allowed}",
            )

    def check_write(self, method: str) -> None:
        """Raise :class:`Forbidden` for a state-changing method on a read-only key."""
        if self.policy and self.policy.access == "read-only" and method not in ("GET", "HEAD"):
            raise Forbidden(
                f"API key {self.name!r} is read-only",
                hint="use a key with access: full to run prompts or delete sessions",
            )


ANONYMOUS = Principal(name="anonymous")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


class KeyRing:
    """The configured keys, as digests, each with its principal."""

    def __init__(self, entries: Iterable[tuple[str, Principal]] = ()) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        seen: set[bytes] = set()
        for secret, principal in entries:
            digest = _digest(secret)
            if digest not in seen:
                seen.add(digest)
                self._entries.append((digest, principal))

    @property
    def enabled(self) -> bool:
        """Whether authentication is on (at least one key)."""
        return bool(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, presented: str | None) -> Principal:
        """The principal of ``presented`` or :class:`AuthError` (missing / invalid key)."""
        if not self._entries:
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


def _split(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.extend(p.strip() for p in line.split(",") if p.strip())
    return out


def _anonymous_name(secret: str) -> str:
    return "key-" + hashlib.sha256(secret.encode()).hexdigest()[:8]


def _run_command(argv: list[str], what: str) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(
            f"{what} failed: {exc}", hint="fix the command or remove it from the config"
        ) from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise ConfigError(
            f"{what} failed: {tail[0]}", hint="fix the command or remove it from the config"
        )
    return done.stdout


def _plain_keys(server: ServerConfig, env: Mapping[str, str]) -> list[str]:
    keys = list(server.api_keys)
    keys += _split(env.get("CLINVK_API_KEYS", "").replace(",", "\n"))
    if server.api_keys_file:
        path = Path(server.api_keys_file).expanduser()
        try:
            keys += _split(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot read server.api_keys_file {str(path)!r}: {exc.strerror or exc}",
                hint="create the file (one key per line) or remove the setting",
            ) from None
    if server.api_keys_command:
        keys += _split(
            _run_command(shlex.split(server.api_keys_command), "server.api_keys_command")
        )
    gopass = env.get("CLINVK_API_KEYS_GOPASS_PATH") or server.api_keys_gopass_path
    if gopass:
        if not _GOPASS_PATH.match(gopass):
            raise ConfigError(
                f"invalid gopass path {gopass!r}", hint="use only letters, digits and / _ . -"
            )
        keys += _split(_run_command(["gopass", "show", "--password", gopass], "gopass"))
    return keys


def load_keyring(server: ServerConfig, env: Mapping[str, str] | None = None) -> KeyRing:
    """Gather every configured key (see the module docstring)."""
    env = os.environ if env is None else env
    entries: list[tuple[str, Principal]] = []
    for policy in server.keys:
        secret = policy.secret(env)
        if secret:
            entries.append((secret, Principal(name=policy.name, policy=policy, authenticated=True)))
    for secret in _plain_keys(server, env):
        entries.append((secret, Principal(name=_anonymous_name(secret), authenticated=True)))
    return KeyRing(entries)


class KeySource:
    """The current key ring; reloads it when ``server.api_keys_file`` changes (key rotation).

    The file's modification time is checked at most every ``interval`` seconds; a file that
    cannot be read keeps the previous keys (and is logged), so a half-written rotation never
    locks everybody out or lets everybody in.
    """

    def __init__(self, server: ServerConfig, *, interval: float = 1.0) -> None:
        self.server = server
        self.interval = interval
        self.ring = load_keyring(server)
        self._path = Path(server.api_keys_file).expanduser() if server.api_keys_file else None
        self._stamp = self._mtime()
        self._next_check = time.monotonic() + interval

    def _mtime(self) -> float | None:
        if self._path is None:
            return None
        try:
            return self._path.stat().st_mtime
        except OSError:
            return None

    def current(self) -> KeyRing:
        """The key ring to authenticate this request with."""
        if self._path is None:
            return self.ring
        now = time.monotonic()
        if now < self._next_check:
            return self.ring
        self._next_check = now + self.interval
        stamp = self._mtime()
        if stamp is not None and stamp != self._stamp:
            try:
                self.ring = load_keyring(self.server)
                self._stamp = stamp
            except ConfigError as exc:
                log.warning("keeping the previous API keys: %s", exc)
        return self.ring
