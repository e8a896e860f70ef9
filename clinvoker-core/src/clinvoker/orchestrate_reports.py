"""What ``parallel``, ``chain`` and ``compare`` report: one :class:`Outcome` per run, and totals.

``to_dict()`` on each report gives the Go tool's ``--json`` shape (durations in seconds, times in
RFC 3339 UTC), plus a few additive fields (``status``, ``cancelled``, ``session_id``, ``usage``).
Results are always in input order, whatever order the runs finished in.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from clinvoker.orchestrate_specs import Task
from clinvoker.result import Usage

__all__ = [
    "ChainReport",
    "CompareReport",
    "Outcome",
    "ParallelReport",
    "Status",
    "write_output_dir",
]

Status = Literal["completed", "failed", "cancelled"]
"""``completed``: exit 0 and no error; ``failed``: anything else; ``cancelled``: stopped by
fail-fast (or never started because of it)."""


class Outcome(msgspec.Struct, kw_only=True):
    """One run of a parallel task, chain step or compared backend."""

    index: int
    """Position in the input, 0-based."""
    backend: str
    status: Status
    exit_code: int
    """The CLI's exit code; 124 timeout; -1 cancelled by fail-fast."""
    output: str = ""
    error: str | None = None
    error_code: str | None = None
    model: str | None = None
    session_id: str | None = None
    """The backend's conversation id."""
    clinvk_session_id: str | None = None
    workdir: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_s: float = 0.0
    command: list[str] | None = None
    """Dry runs: the command that would run."""
    name: str = ""
    task_id: str = ""
    tags: list[str] = []
    meta: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def common(self) -> dict[str, Any]:
        """Fields every JSON shape shares."""
        out: dict[str, Any] = {"backend": self.backend, "status": self.status}
        out["exit_code"] = self.exit_code
        if self.error:
            out["error"] = self.error
        if self.output:
            out["output"] = self.output
        if self.command is not None:
            out["command"] = self.command
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        if self.cost_usd is not None:
            out["cost_usd"] = self.cost_usd
        out["start_time"] = _time(self.start_time)
        out["end_time"] = _time(self.end_time)
        out["duration_seconds"] = round(self.duration_s, 3)
        return out


class _Report(msgspec.Struct, kw_only=True):
    results: list[Outcome]
    start_time: datetime
    end_time: datetime
    total_duration_s: float

    @property
    def completed(self) -> int:
        return sum(1 for r in self.results if r.status == "completed")

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.status == "failed")

    @property
    def cancelled(self) -> int:
        return sum(1 for r in self.results if r.status == "cancelled")

    @property
    def ok(self) -> bool:
        """Every run completed."""
        return all(r.ok for r in self.results)

    def _times(self) -> dict[str, Any]:
        return {
            "total_duration_seconds": round(self.total_duration_s, 3),
            "start_time": _time(self.start_time),
            "end_time": _time(self.end_time),
        }


class ParallelReport(_Report):
    """``clinvk parallel`` results."""

    def to_dict(self) -> dict[str, Any]:
        results = []
        for r in self.results:
            item: dict[str, Any] = {"index": r.index}
            if r.task_id:
                item["task_id"] = r.task_id
            if r.name:
                item["task_name"] = r.name
            if r.tags:
                item["tags"] = r.tags
            if r.meta:
                item["meta"] = r.meta
            item.update(r.common())
            if r.session_id:
                item["session_id"] = r.session_id
            results.append(item)
        return {
            "total_tasks": len(self.results),
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            **self._times(),
            "results": results,
        }


class ChainReport(_Report):
    """``clinvk chain`` results: the steps that ran, in order."""

    total_steps: int
    failed_step: int | None = None
    """1-based number of the last failed step (``None`` when none failed)."""

    @property
    def completed_steps(self) -> int:
        return self.completed

    @property
    def ok(self) -> bool:
        return self.failed_step is None and len(self.results) == self.total_steps

    def to_dict(self) -> dict[str, Any]:
        results = []
        for r in self.results:
            item: dict[str, Any] = {"step": r.index + 1}
            if r.name:
                item["name"] = r.name
            item.update(r.common())
            if r.clinvk_session_id or r.session_id:
                item["session_id"] = r.clinvk_session_id or r.session_id
            results.append(item)
        out: dict[str, Any] = {"total_steps": self.total_steps, "completed_steps": self.completed}
        if self.failed_step is not None:
            out["failed_step"] = self.failed_step
        return {**out, **self._times(), "results": results}


class CompareReport(_Report):
    """``clinvk compare`` results, one per backend in the order they were given."""

    prompt: str
    backends: list[str]

    def to_dict(self) -> dict[str, Any]:
        results = []
        for r in self.results:
            item = r.common()
            if r.model:
                item["model"] = r.model
            results.append(item)
        return {
            "prompt": self.prompt,
            "backends": self.backends,
            **self._times(),
            "results": results,
        }


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def task_file_name(position: int, task: Task) -> str:
    """``NNN_<name>.json``: 1-based position, the task's id, else name, else ``task-N``."""
    raw = task.id or task.name or f"task-{position}"
    safe = _UNSAFE.sub("_", raw).strip("_")[:64] or f"task-{position}"
    return f"{position:03d}_{safe}.json"


def write_output_dir(report: ParallelReport, tasks: list[Task], directory: str | Path) -> Path:
    """Write ``summary.json`` and one ``NNN_<name>.json`` (``{"task":…, "result":…}``) per task.

    The directory is created with mode 0700 and files with mode 0600 (answers may be private).
    """
    root = Path(directory).expanduser()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    summary = report.to_dict()
    _write_json(root / "summary.json", summary)
    for position, (task, item) in enumerate(zip(tasks, summary["results"], strict=True), 1):
        task_data = msgspec.to_builtins(task)
        _write_json(root / task_file_name(position, task), {"task": task_data, "result": item})
    return root


def _write_json(path: Path, data: Any) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
