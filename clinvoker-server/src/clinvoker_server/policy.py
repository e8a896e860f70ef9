"""A named key's policy applied to one run: request fields may tighten it, never widen it.

* ``access: read-only`` — every run gets sandbox ``read-only`` and approval ``default``, which
  each backend maps to its read-only flags (claude ``--permission-mode plan``, codex
  ``-s read-only``, gemini ``--approval-mode plan``). Asking for more — a ``workspace``/``full``
  sandbox, approval ``auto``/``none``, or an ``extra`` flag that changes permissions — is a 403.
  The configuration's own approval/sandbox defaults and permission flags in a backend's
  ``extra_flags`` are dropped for such runs (:func:`run_config`), so they cannot widen it either.
* ``workdir_roots`` — ``extra`` flags naming directories (``--add-dir``) must stay inside them
  (and, for every key, inside the server's allowed and outside its blocked prefixes); the CLI
  gets the real path that was checked.

Everything else in a policy (backends, models, roots of the working directory itself) is
checked by :class:`~clinvoker_server.auth.Principal` and :mod:`clinvoker_server.workdir`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
from clinvoker.errors import Forbidden, ValidationError

from clinvoker_server.errors import invalid_field

if TYPE_CHECKING:
    from clinvoker.backend import Backend
    from clinvoker.config import Config

    from clinvoker_server.auth import Principal
    from clinvoker_server.workdir import WorkdirPolicy

__all__ = ["PERMISSION_FLAGS", "access_modes", "check_policy_flags", "check_run", "run_config"]

PERMISSION_FLAGS = frozenset(
    {
        "--permission-mode",
        "--dangerously-skip-permissions",
        "--allow-dangerously-skip-permissions",
        "--sandbox",
        "-s",
        "--ask-for-approval",
        "-a",
        "--full-auto",
        "--dangerously-bypass-approvals-and-sandbox",
        "--yolo",
        "-y",
        "--approval-mode",
    }
)
"""CLI flags that change what an agent may do without asking (any backend)."""

_VALUED = frozenset({"--permission-mode", "--sandbox", "-s", "--ask-for-approval", "-a"})
_VALUED |= {"--approval-mode", "--add-dir", "--config-dir"}
_PATH_FLAGS = frozenset({"--add-dir", "--config-dir"})
_WIDER_SANDBOX = frozenset({"workspace", "full"})
_WIDER_APPROVAL = frozenset({"auto", "none"})


def _forbidden(message: str, hint: str, param: str) -> Forbidden:
    exc = Forbidden(message, hint=hint)
    exc.param = param  # type: ignore[attr-defined]
    return exc


def access_modes(
    principal: Principal, approval: str | None, sandbox: str | None, param: str = ""
) -> tuple[str | None, str | None]:
    """The approval and sandbox modes a run gets under ``principal``'s access.

    A full-access key gets what it asked for. A read-only key gets ``("default", "read-only")``;
    asking for a wider sandbox or an approval mode that lets the agent edit is a 403.
    """
    if not principal.read_only:
        return approval, sandbox
    if sandbox in _WIDER_SANDBOX:
        raise _forbidden(
            f"API key {principal.name!r} is read-only: sandbox_mode {sandbox!r} is not allowed",
            "leave sandbox_mode out or ask for 'read-only'",
            f"{param}sandbox_mode",
        )
    if approval in _WIDER_APPROVAL:
        raise _forbidden(
            f"API key {principal.name!r} is read-only: approval_mode {approval!r} is not allowed",
            "leave approval_mode out; the run is read-only",
            f"{param}approval_mode",
        )
    return "default", "read-only"


def _split(token: str) -> tuple[str, str | None]:
    name, eq, value = token.partition("=")
    return name.lower(), value if eq else None


def check_policy_flags(
    principal: Principal,
    flags: Sequence[str],
    workdirs: WorkdirPolicy,
    param: str = "extra",
) -> tuple[str, ...]:
    """``flags`` as the CLI is to get them, or a 403/422 for one that would step outside the
    key's policy.

    Read-only keys may not pass :data:`PERMISSION_FLAGS`. A directory named by a flag
    (``--add-dir``, ``--config-dir``) must pass the same checks as a workdir — the server's
    blocked and allowed prefixes for every key, and the key's ``workdir_roots`` when it has them
    — and is handed on as the real path that was checked, never as the client wrote it, so a
    symlink swapped after the check cannot point the CLI elsewhere.
    """
    roots = principal.roots
    out = list(flags)
    for i, token in enumerate(flags):
        name, value = _split(token)
        if principal.read_only and name in PERMISSION_FLAGS:
            raise _forbidden(
                f"API key {principal.name!r} is read-only: flag {name} is not allowed",
                "leave permission flags out; the run is read-only",
                f"{param}[{i}]",
            )
        if name in _PATH_FLAGS:
            at = i if value is not None else i + 1
            if value is None:
                value = flags[at] if at < len(flags) else ""
            real = workdirs.check(value, roots=roots, param=f"{param}[{i}]") if value else None
            if real is None:
                raise invalid_field(
                    f"flag {name} needs a directory: pass {name}=/absolute/path",
                    f"{param}[{i}]",
                    cls=ValidationError,
                )
            out[at] = f"{token.partition('=')[0]}={real}" if at == i else real
    return tuple(out)


def strip_permission_flags(flags: Sequence[str]) -> list[str]:
    """``flags`` without :data:`PERMISSION_FLAGS` (and the values of those that take one)."""
    kept: list[str] = []
    skip_value = False
    for token in flags:
        if skip_value:
            skip_value = False
            if not token.startswith("-"):
                continue
        name, value = _split(token)
        if name in PERMISSION_FLAGS:
            skip_value = value is None and name in _VALUED
            continue
        kept.append(token)
    return kept


def run_config(config: Config, principal: Principal) -> Config:
    """The configuration a run of ``principal`` starts from.

    For a read-only key the approval/sandbox defaults are ``default``/``read-only`` everywhere
    and permission flags are removed from every backend's ``extra_flags``; otherwise
    ``config`` itself.
    """
    if not principal.read_only:
        return config
    replace = msgspec.structs.replace
    unified = replace(config.unified_flags, approval_mode="default", sandbox_mode="read-only")
    backends = {
        name: replace(
            b, approval_mode="", sandbox_mode="", extra_flags=strip_permission_flags(b.extra_flags)
        )
        for name, b in config.backends.items()
    }
    return replace(config, unified_flags=unified, backends=backends)


def check_run(
    principal: Principal,
    backend: Backend,
    *,
    model: str | None,
    approval: str | None,
    sandbox: str | None,
    extra: Sequence[str],
    workdirs: WorkdirPolicy,
    param: str = "",
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Check one run against the key's policy — backend, model, ``extra`` flags, access — and
    return the approval and sandbox modes it gets (see :func:`access_modes`) and the ``extra``
    flags to pass (see :func:`check_policy_flags`). 403 on a breach.

    ``param`` prefixes the field names in errors (``tasks[2].``).
    """
    principal.check_backend(backend.name)
    principal.check_model(None, backend=backend, model=model or None)
    flags = check_policy_flags(principal, extra, workdirs, f"{param}extra")
    return (*access_modes(principal, approval, sandbox, param), flags)
