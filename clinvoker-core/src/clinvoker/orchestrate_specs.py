"""What ``parallel`` and ``chain`` are asked to do: task and step definitions.

Field names are the Go tool's, so its task files load unchanged. Unknown fields are rejected so a
typo is reported instead of silently ignored; every field the Go tool accepted is here (some,
like ``output_format`` and ``max_tokens``, are accepted and ignored, as there).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["ChainSpec", "ParallelSpec", "Step", "Task"]

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class _Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of the task-file structures."""


class Task(_Spec):
    """One task of ``clinvk parallel`` / ``POST /api/v1/parallel``."""

    prompt: str
    backend: str = ""
    """Empty = config ``default_backend``."""
    workdir: str = ""
    model: str = ""
    extra: list[str] = []
    """Extra CLI flags, appended before the prompt."""
    approval_mode: str = ""
    sandbox_mode: str = ""
    output_format: str = ""
    """Accepted for compatibility; results are always collected as JSON."""
    max_tokens: NonNegInt = 0
    """Accepted for compatibility; no CLI has such a flag."""
    max_turns: NonNegInt = 0
    system_prompt: str = ""
    verbose: bool = False
    dry_run: bool = False
    ephemeral: bool = True
    """*(new)* ``False`` records the run in a clinvk session."""
    timeout: Seconds | None = None
    """*(new)* Seconds before the task's process group is stopped (default: config)."""
    id: str = ""
    name: str = ""
    tags: list[str] = []
    meta: dict[str, str] = {}
    metadata: dict[str, str] = {}
    """The server API's name for ``meta``; both are kept."""

    @property
    def label(self) -> str:
        """``name``, else ``id``, else the prompt (for progress lines and tables)."""
        return self.name or self.id or self.prompt


class ParallelSpec(_Spec):
    """A parallel task file: ``{"tasks": [...], "max_parallel": 3, "fail_fast": false}``."""

    tasks: list[Task]
    max_parallel: NonNegInt = 0
    """0 = config ``parallel.max_workers``."""
    fail_fast: bool = False
    output_dir: str = ""
    dry_run: bool = False


class Step(_Spec):
    """One step of ``clinvk chain`` / ``POST /api/v1/chain``.

    ``{{previous}}`` in the prompt becomes the previous step's answer; ``{{session}}`` the
    previous step's clinvk session id (only with ``persist_sessions``).
    """

    prompt: str
    backend: str = ""
    model: str = ""
    workdir: str = ""
    approval_mode: str = ""
    sandbox_mode: str = ""
    max_turns: NonNegInt = 0
    max_tokens: NonNegInt = 0
    system_prompt: str = ""
    verbose: bool = False
    extra: list[str] = []
    name: str = ""
    timeout: Seconds | None = None


class ChainSpec(_Spec):
    """A chain file: ``{"steps": [...], "pass_working_dir": false}``."""

    steps: list[Step]
    stop_on_failure: bool = True
    """Stop at the first failing step (the CLI always does; the HTTP API defaults to false)."""
    pass_working_dir: bool = False
    """A step without a workdir runs in the previous step's."""
    pass_session_id: bool = False
    """*(fixed)* A step on the same backend as the previous one continues its conversation
    (needs ``persist_sessions``)."""
    persist_sessions: bool = False
    """*(fixed)* Record every step in a clinvk session instead of running ephemerally."""
    dry_run: bool = False
