"""Config files (and ``CLINVK_*`` variables) with wrong types, unknown keys and broken YAML:
always one clear line naming the problem, never a traceback.

In-process, hypothesis builds config trees shaped like the real one (every known section and
key, plus unknown ones) with values of any type; ``load_config`` must either accept the file or
raise :class:`~clinvoker.errors.ConfigError` with a one-line message. Then the real ``clinvk``
and ``clinvk serve`` are run on a few bad files to check what the user sees.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from clinvoker.config import Config, load_config
from clinvoker.errors import ConfigError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability.support.world import World


def _sections(struct: Any) -> dict[str, Any]:
    """Key -> nested struct type (or ``None`` for a leaf) of a config section."""
    out: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        kind = field.type
        out[field.encode_name] = (
            kind if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else None
        )
    return out


SECTIONS = _sections(Config)

leaves = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "-1", "yes", "0x10", "1e999", "claude", "*", "~", "null"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def section(struct: Any) -> st.SearchStrategy[dict[str, Any]]:
    keys = list(_sections(struct)) if struct is not None else []
    return st.dictionaries(
        st.sampled_from(keys) | st.text(min_size=1, max_size=8) if keys else st.text(max_size=8),
        leaves,
        max_size=5,
    )


trees = st.fixed_dictionaries(
    {},
    optional={
        name: (section(struct) if struct is not None else leaves)
        for name, struct in SECTIONS.items()
    },
).flatmap(
    lambda tree: st.dictionaries(st.text(min_size=1, max_size=8), leaves, max_size=1).map(
        lambda extra: {**tree, **extra}
    )
)


def as_yaml(tree: dict[str, Any]) -> str:
    try:
        return msgspec.yaml.encode(tree).decode()
    except (TypeError, ValueError, OverflowError):
        return repr(tree)


documents = (
    trees.map(as_yaml)
    | st.text(max_size=80)
    | st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
)


def loads_or_says_why(path: Path, home: Path, env: dict[str, str] | None = None) -> None:
    try:
        load_config(path, env={"CLINVK_HOME": str(home), **(env or {})})
    except ConfigError as exc:
        message = str(exc)
        assert message.strip(), "an empty error message"
        assert "\n" not in message, f"not one line: {message!r}"
        assert "Traceback" not in message


FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(document=documents)
def test_any_config_file_loads_or_fails_in_one_line(tmp_path: Path, document: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(document.encode("utf-8", "surrogatepass"))
    loads_or_says_why(path, tmp_path)


ENV_KEYS = [
    f"CLINVK_{name.upper()}__{key.upper()}"
    for name, struct in SECTIONS.items()
    if struct is not None
    for key in _sections(struct)
]


@FUZZ
@given(var=st.sampled_from(ENV_KEYS), value=st.text(max_size=20))
def test_any_clinvk_variable_loads_or_fails_in_one_line(
    tmp_path: Path, var: str, value: str
) -> None:
    if "\x00" in value:
        value = value.replace("\x00", "")
    path = tmp_path / "config.yaml"
    path.write_text("default_backend: claude\n", encoding="utf-8")
    loads_or_says_why(path, tmp_path, {var: value})


BAD_FILES = {
    "wrong_type": ("server:\n  port: eighty\n", r"server\.port"),
    "unknown_key": ("unified_flags:\n  timeout: 5\n", r"unknown key 'unified_flags\.timeout'"),
    "negative": ("unified_flags:\n  command_timeout_secs: -1\n", r"command_timeout_secs"),
    "list_for_section": ("session: [1, 2]\n", r"session"),
    "broken_yaml": ("backends: {claude: [\n", r"invalid YAML"),
    "python_tag": ('x: !!python/object/apply:os.system ["true"]\n', r"invalid YAML"),
    "not_utf8": ("\udcff\udcfe: 1\n", r"UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["prompt", "serve"])
def test_clinvk_says_what_is_wrong_with_the_config(world: World, case: str, command: str) -> None:
    text, pattern = BAD_FILES[case]
    (world.home / "config.yaml").write_bytes(text.encode("utf-8", "surrogateescape"))
    args = ["-b", "claude", "-o", "text", "hi"] if command == "prompt" else ["serve", "--port", "0"]
    rc, out, err = world.clinvk(*args, timeout=30)
    assert rc == 3, err
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert world.calls() == []  # nothing was run with a config it could not read


@pytest.mark.parametrize("text", ["", "{}\n", "session: {}\n", "backends:\n  claude: {}\n"])
def test_an_empty_config_or_section_means_the_defaults(world: World, text: str) -> None:
    (world.home / "config.yaml").write_text(text, encoding="utf-8")
    rc, out, err = world.clinvk("-b", "claude", "--new", "-o", "text", "hi", timeout=30)
    assert (rc, out, err) == (0, "echo: hi\n", "")
