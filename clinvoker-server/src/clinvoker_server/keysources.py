"""Where API keys come from, and the key-list format the key file and key commands share.

Sources, all of them used together:

* ``server.keys`` — named keys with a policy (``key`` or ``key_env``);
* ``server.api_keys`` and ``CLINVK_API_KEYS`` (comma separated) — plain keys;
* ``server.api_keys_file`` — a file holding a key list;
* ``server.api_keys_command`` — a command printing a key list, e.g. ``gopass show -o
  clinvk/keys`` or ``pass show clinvk``. It is split with :func:`shlex.split` and run without
  a shell, stdin from ``/dev/null``, for at most ``server.api_keys_command_timeout_secs``;
* ``server.api_keys_gopass_path`` / ``CLINVK_API_KEYS_GOPASS_PATH`` — runs
  ``gopass show -o <path>`` the same way.

Commands run at start-up and on every reload. Their output is never logged, nor are keys. A
command that fails — non-zero exit, timeout, not found, no keys, unreadable output — makes the
server *fail closed*: it keeps running, refuses every request but ``GET /health`` with 503, and
logs one line such as ``api_keys_command failed: exit 1; refusing all API requests until it
succeeds (reload with SIGHUP)``.

**Key-list format.** Either plain lines — one or more keys per line, separated by commas; blank
lines and ``#`` comments ignored; ``name:key`` gives the key a name (the name owns its sessions;
everything after the first ``:`` is the key, so a key containing ``:`` must be written with a
name) — or a YAML/JSON list (text starting with ``[`` or ``- ``) whose items are plain key
strings or mappings with the fields of a ``server.keys`` entry::

    - {name: alice, key: sk-alice, backends: [claude], access: read-only, workdir_roots: [/srv/a]}
    - name: ci
      key: sk-ci
      max_concurrent: 2
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from clinvoker.config_schema import ApiKeyPolicy
from clinvoker.errors import ConfigError

from clinvoker_server.auth import KeyRing, Principal

if TYPE_CHECKING:
    from clinvoker.config_schema import ServerConfig

__all__ = ["KeyCommandFailed", "load_keyring", "parse_key_list"]

log = logging.getLogger("clinvoker_server")

_GOPASS_PATH = re.compile(r"^[A-Za-z0-9/_.\-]+$")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
_STRUCTURED = re.compile(r"^\s*(?:\[|-(?:\s|$))")

KeyItem = tuple[str, ApiKeyPolicy | None]
"""One key of a list: the secret, and its named policy (``None`` for an unnamed key)."""


class KeyCommandFailed(Exception):
    """A key command did not produce keys; the message never contains its output."""


def parse_key_list(text: str, source: str, env: Mapping[str, str] | None = None) -> list[KeyItem]:
    """The keys in ``text`` (see the module docstring for the format; ``env`` resolves the
    ``key_env`` of structured entries, default :data:`os.environ`).

    :raises ConfigError: malformed YAML/JSON or an invalid entry, naming ``source`` and the
        entry's position (never its key).
    """
    if _STRUCTURED.match(text):
        return _parse_structured(text, source, os.environ if env is None else env)
    items: list[KeyItem] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        items.extend(_token(t.strip()) for t in line.split(",") if t.strip())
    return items


def _token(token: str) -> KeyItem:
    name, sep, secret = token.partition(":")
    if sep and secret and _NAME.fullmatch(name):
        return secret, ApiKeyPolicy(name=name, key=secret)
    return token, None


def _parse_structured(text: str, source: str, env: Mapping[str, str]) -> list[KeyItem]:
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: not a valid YAML/JSON key list{where}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{source}: a structured key list must be a list of keys")
    items: list[KeyItem] = []
    for i, entry in enumerate(data, 1):
        if isinstance(entry, str) and entry.strip():
            items.append(_token(entry.strip()))
        elif isinstance(entry, dict):
            items.append(_policy_item(entry, f"{source}: entry {i}", env))
        else:
            raise ConfigError(f"{source}: entry {i} must be a key string or a mapping")
    return items


def _policy_item(entry: dict[str, Any], where: str, env: Mapping[str, str]) -> KeyItem:
    from clinvoker.config_rules import key_policy_problems

    try:
        policy = msgspec.convert(entry, ApiKeyPolicy)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}", hint="see the key fields of server.keys") from None
    for field, problem in key_policy_problems(policy):
        raise ConfigError(f"{where}{field}: {problem}")
    secret = policy.secret(env)
    if not secret:
        raise ConfigError(
            f"{where}: key {policy.name!r} has no secret (${policy.key_env} is unset)"
        )
    return secret, policy


def run_key_command(argv: list[str], timeout: float) -> str:
    """The standard output of ``argv`` (run without a shell, in its own process group).

    :raises KeyCommandFailed: it could not start, timed out, or exited non-zero; the message
        says which (``exit 1``, ``timed out after 10s``, ``command not found: gopass``).
    """
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise KeyCommandFailed(f"command not found: {argv[0]}") from None
    except OSError as exc:
        raise KeyCommandFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise KeyCommandFailed(f"timed out after {timeout:g}s") from None
    if proc.returncode != 0:
        code = proc.returncode
        raise KeyCommandFailed(f"killed by signal {-code}" if code < 0 else f"exit {code}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyCommandFailed("its output is not UTF-8 text") from None


def _commands(server: ServerConfig, env: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    """``(what, argv)`` of each configured key command."""
    found: list[tuple[str, list[str]]] = []
    if server.api_keys_command.strip():
        try:
            argv = shlex.split(server.api_keys_command)
        except ValueError as exc:
            raise ConfigError(
                f"server.api_keys_command: cannot split it into arguments: {exc}",
                hint="quote it as you would in a shell (it is not run by one)",
            ) from None
        found.append(("api_keys_command", argv))
    gopass = env.get("CLINVK_API_KEYS_GOPASS_PATH") or server.api_keys_gopass_path
    if gopass:
        if not _GOPASS_PATH.match(gopass):
            raise ConfigError(
                f"server.api_keys_gopass_path: invalid gopass path {gopass!r}",
                hint="use only letters, digits and / _ . -",
            )
        found.append((f"gopass show -o {gopass}", ["gopass", "show", "-o", gopass]))
    return found


def _file_items(server: ServerConfig, env: Mapping[str, str]) -> list[KeyItem]:
    if not server.api_keys_file:
        return []
    path = Path(server.api_keys_file).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot read server.api_keys_file {str(path)!r}: {reason}",
            hint="create the file (one key per line) or remove the setting",
        ) from None
    return parse_key_list(text, f"server.api_keys_file {str(path)!r}", env)


def _command_items(
    what: str, argv: list[str], timeout: float, env: Mapping[str, str]
) -> list[KeyItem]:
    output = run_key_command(argv, timeout)
    try:
        items = parse_key_list(output, what, env)
    except ConfigError as exc:
        raise KeyCommandFailed(f"its output is not a key list: {exc}") from None
    if not items:
        raise KeyCommandFailed("it printed no keys")
    return items


def _anonymous_name(secret: str) -> str:
    import hashlib

    return "key-" + hashlib.sha256(secret.encode()).hexdigest()[:8]


def load_keyring(server: ServerConfig, env: Mapping[str, str] | None = None) -> KeyRing:
    """Gather every configured key into a :class:`KeyRing` (see the module docstring).

    A failing key command does not raise: the ring carries the failure (``ring.error``) and
    refuses every request, and one line is logged.

    :raises ConfigError: a configuration problem — an unreadable or malformed key file, a
        command that cannot be split, an invalid gopass path, two keys with one name.
    """
    env = os.environ if env is None else env
    items: list[KeyItem] = []
    for policy in server.keys:
        secret = policy.secret(env)
        if secret:
            items.append((secret, policy))
    items += [(k, None) for k in server.api_keys if k.strip()]
    items += [(k.strip(), None) for k in env.get("CLINVK_API_KEYS", "").split(",") if k.strip()]
    items += _file_items(server, env)
    error: str | None = None
    for what, argv in _commands(server, env):
        try:
            timeout = float(server.api_keys_command_timeout_secs)
            items += _command_items(what, argv, timeout, env)
        except KeyCommandFailed as exc:
            error = f"{what} failed: {exc}"
            log.error("%s; refusing all API requests until it succeeds (reload with SIGHUP)", error)
            break
    _check_unique_names(items)
    items.sort(key=lambda item: item[1] is None)  # a key's name wins over an unnamed copy
    configured = bool(
        server.keys
        or server.api_keys_file
        or server.api_keys_command.strip()
        or env.get("CLINVK_API_KEYS_GOPASS_PATH")
        or server.api_keys_gopass_path
    )
    entries = [
        (
            secret,
            Principal(
                name=policy.name if policy is not None else _anonymous_name(secret),
                policy=policy,
                authenticated=True,
            ),
        )
        for secret, policy in items
    ]
    return KeyRing(entries, enabled=configured, error=error)


def _check_unique_names(items: list[KeyItem]) -> None:
    by_name: dict[str, str] = {}
    by_secret: dict[str, str] = {}
    for secret, policy in items:
        if policy is None:
            continue
        if by_name.setdefault(policy.name, secret) != secret:
            raise ConfigError(
                f"API key name {policy.name!r} is given to two different keys",
                hint="key names must be unique across server.keys, the key file and the key command",
            )
        other = by_secret.setdefault(secret, policy.name)
        if other != policy.name:
            raise ConfigError(
                f"one API key is named both {other!r} and {policy.name!r}",
                hint="give every key one name",
            )
