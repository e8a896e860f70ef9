"""Task files for ``parallel``/``chain``: JSON or YAML, and one located line for every mistake."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from clinvoker.cli.taskfile import load_task_file, parse_task_text
from clinvoker.errors import UsageError


class Task(msgspec.Struct, forbid_unknown_fields=True):
    backend: str
    prompt: str
    name: str = ""
    max_turns: int = 0


class Spec(msgspec.Struct):
    tasks: list[Task]
    max_parallel: int = 0


def error_of(text: str, name: str) -> str:
    with pytest.raises(UsageError) as info:
        parse_task_text(text, name, Spec, wrap="tasks")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_yaml_and_json_files_give_the_same_tasks() -> None:
    yaml_text = "tasks:\n  - backend: claude\n    prompt: hi\nmax_parallel: 2\n"
    json_text = '{"tasks": [{"backend": "claude", "prompt": "hi"}], "max_parallel": 2}'
    assert parse_task_text(yaml_text, "t.yaml", Spec, wrap="tasks") == parse_task_text(
        json_text, "t.json", Spec, wrap="tasks"
    )


def test_a_top_level_list_is_the_task_list() -> None:
    spec = parse_task_text('[{"backend": "codex", "prompt": "x"}]', "<stdin>", Spec, wrap="tasks")
    assert spec.tasks == [Task(backend="codex", prompt="x")]


def test_wrong_type_names_file_line_path_and_problem() -> None:
    text = (
        "tasks:\n"
        "  - backend: claude\n"
        "    prompt: one\n"
        "  - backend: codex\n"
        "    prompt: two\n"
        "  - prompt: three\n"
        "    backend: 7\n"
    )
    assert error_of(text, "tasks.yaml") == (
        "tasks.yaml:7: tasks[2].backend: expected a string, got an integer"
    )


def test_wrong_type_in_a_json_file_is_located_too() -> None:
    text = (
        '{\n  "tasks": [\n    {"backend": "claude", "prompt": "a", "max_turns": "many"}\n  ]\n}\n'
    )
    assert error_of(text, "t.json") == (
        "t.json:3: tasks[0].max_turns: expected an integer, got a string"
    )


def test_a_missing_field_points_at_the_task() -> None:
    text = "tasks:\n  - backend: claude\n    prompt: a\n  - backend: codex\n"
    assert error_of(text, "t.yaml") == "t.yaml:4: tasks[1]: missing required field 'prompt'"


def test_an_unknown_field_is_named() -> None:
    text = "tasks:\n  - backend: claude\n    prompt: a\n    promt: b\n"
    assert error_of(text, "t.yaml") == "t.yaml:2: tasks[0]: unknown field 'promt'"


def test_a_missing_task_list() -> None:
    assert error_of("max_parallel: 2\n", "t.yaml") == "t.yaml:1: missing required field 'tasks'"


def test_json_syntax_errors_have_line_and_column() -> None:
    message = error_of('{"tasks": [\n  {"backend": "claude",}\n]}', "t.json")
    assert message.startswith("t.json:2:")
    assert "invalid JSON" in message


def test_yaml_syntax_errors_have_line_and_column() -> None:
    message = error_of("tasks:\n  - backend: [claude\n    prompt: x\n", "t.yaml")
    assert message.startswith("t.yaml:")
    assert "invalid YAML" in message


def test_a_scalar_document_is_rejected() -> None:
    assert "expected a mapping" in error_of("just words\n", "t.yaml")


def test_an_empty_file_is_rejected() -> None:
    assert "empty task file" in error_of("  \n", "t.yaml")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.yaml: no such file"):
        load_task_file(str(tmp_path / "nope.yaml"), None, Spec, wrap="tasks")


def test_stdin_text_is_used_without_a_path() -> None:
    spec = load_task_file(None, '{"tasks": [{"backend": "b", "prompt": "p"}]}', Spec, wrap="tasks")
    assert spec.tasks[0].backend == "b"
