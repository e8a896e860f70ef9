"""Reading ``parallel`` / ``chain`` task files (JSON or YAML) with one-line, located errors.

A malformed file gives exactly one line naming the file, the line (and column when known) and
what is wrong, e.g. ``tasks.yaml:7: tasks[2].backend: expected a string, got an integer``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from clinvoker.errors import UsageError

__all__ = ["load_task_file", "parse_task_text"]

T = TypeVar("T")

_PATH_RE = re.compile(r"\s*-\s*at\s*`\$(?P<path>[^`]*)`\s*$")
_PART_RE = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def load_task_file(path: str | None, stdin_text: str | None, spec: type[T], *, wrap: str) -> T:
    """Decode the task file at ``path`` (or ``stdin_text`` when ``path`` is ``None``) into ``spec``.

    :param wrap: a top-level list is accepted as ``{wrap: [...]}`` (``tasks`` or ``steps``).
    :raises UsageError: unreadable or malformed file, with a located one-line message.
    """
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read: {exc}") from None
        name = path
    else:
        text = stdin_text or ""
        name = "<stdin>"
    return parse_task_text(text, name, spec, wrap=wrap)


def parse_task_text(text: str, name: str, spec: type[T], *, wrap: str) -> T:
    """Parse ``text`` (JSON or YAML; the file name's suffix decides, else the content)."""
    if not text.strip():
        raise UsageError(f"{name}: empty task file (expected a mapping with {wrap!r})")
    is_json = name.endswith(".json") or (
        not name.endswith((".yaml", ".yml")) and text.lstrip()[:1] in "{["
    )
    data = _parse_json(text, name) if is_json else _parse_yaml(text, name)
    wrapped = isinstance(data, list)
    if wrapped:
        data = {wrap: data}
    if not isinstance(data, dict):
        raise UsageError(
            f"{name}:1: expected a mapping with {wrap!r} (or a list of them), got {_kind(data)}"
        )
    try:
        return msgspec.convert(data, spec, str_keys=True)
    except msgspec.ValidationError as exc:
        raise UsageError(_locate(str(exc), text, name, wrapped=wrapped)) from None


def _parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None


def _parse_yaml(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1"
        problem = exc.problem or exc.context or "invalid YAML"
        raise UsageError(f"{name}:{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{name}: invalid YAML: {' '.join(str(exc).split())}") from None


def _kind(value: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a mapping",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


def _locate(message: str, text: str, name: str, *, wrapped: bool) -> str:
    """Turn msgspec's ``... - at `$.tasks[2].backend``` into ``name:LINE: tasks[2].backend: ...``."""
    m = _PATH_RE.search(message)
    path = m["path"] if m else ""
    what = _humanize(message[: m.start()] if m else message)
    parts: list[str | int] = [p[0] if p[0] else int(p[1]) for p in _PART_RE.findall(path)]
    line = _line_of(text, parts[1:] if wrapped else parts)
    label = _label(parts)
    prefix = f"{name}:{line}" if line else name
    return f"{prefix}: {label}: {what}" if label else f"{prefix}: {what}"


def _label(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _humanize(message: str) -> str:
    message = message.strip()
    m = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", message)
    if m:
        want = " or ".join(_TYPE_NAMES.get(t.strip(), t.strip()) for t in m[1].split("|"))
        return f"expected {want}, got {_TYPE_NAMES.get(m[2], m[2])}"
    m = re.fullmatch(r"Object missing required field `([^`]+)`", message)
    if m:
        return f"missing required field {m[1]!r}"
    m = re.fullmatch(r"Object contains unknown field `([^`]+)`", message)
    if m:
        return f"unknown field {m[1]!r}"
    return message[:1].lower() + message[1:]


def _line_of(text: str, parts: list[str | int]) -> int | None:
    """1-based line of the node at ``parts`` (the deepest one that exists), via PyYAML's composer."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    for part in parts:
        child: yaml.Node | None = None
        if isinstance(part, int) and isinstance(node, yaml.SequenceNode):
            if part < len(node.value):
                child = node.value[part]
        elif isinstance(part, str) and isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    child = value
                    break
        if child is None:
            break
        node = child
    return node.start_mark.line + 1
