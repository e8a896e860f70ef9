"""Whatever gemini prints, parsing never raises."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from clinvoker.request import ParseState, RunOutput, RunRequest
from clinvoker_gemini.backend import GeminiBackend, disallowed_tools_policy
from hypothesis import given, settings
from hypothesis import strategies as st

gemini = GeminiBackend()
MODES = st.sampled_from(["stream", "json", "text"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=6,
)
KEYS = [
    "session_id",
    "model",
    "role",
    "content",
    "delta",
    "tool_name",
    "tool_id",
    "parameters",
    "status",
    "output",
    "error",
    "severity",
    "message",
    "stats",
    "response",
    "warnings",
]
gemini_like = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(["init", "message", "tool_use", "tool_result", "error", "result", "x"]),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5),
)


def _run(mode: str, lines: list[bytes], exit_code: int, stderr: str) -> None:
    request = RunRequest(prompt="p", backend="gemini", output=mode)  # type: ignore[arg-type]
    state = ParseState(request)
    events: list[Any] = []
    for line in lines:
        events += gemini.parse_stream(line, state)
    result = gemini.parse_output(
        RunOutput(
            request=request, exit_code=exit_code, stderr=stderr, events=tuple(events), state=state
        )
    )
    assert result.backend == "gemini"
    if exit_code != 0:
        assert result.error
        assert result.error_code


@settings(max_examples=300)
@given(
    mode=MODES,
    lines=st.lists(st.binary(max_size=200), max_size=8),
    exit_code=st.integers(-15, 255),
    stderr=st.text(max_size=300),
)
def test_arbitrary_bytes_never_raise(
    mode: str, lines: list[bytes], exit_code: int, stderr: str
) -> None:
    _run(mode, lines, exit_code, stderr)


@settings(max_examples=150)
@given(
    mode=MODES,
    objs=st.lists(gemini_like, max_size=8),
    exit_code=st.sampled_from([0, 1, 41, 42, 145, 173, 244]),
)
def test_json_with_unexpected_shapes_never_raises(
    mode: str, objs: list[dict[str, Any]], exit_code: int
) -> None:
    _run(mode, [json.dumps(o).encode() for o in objs], exit_code, "")


@settings(max_examples=200)
@given(
    stdout=st.binary(max_size=400),
    stderr=st.text(max_size=400),
    exit_code=st.integers(0, 255),
    mode=MODES,
)
def test_captured_output_never_raises(
    stdout: bytes, stderr: str, exit_code: int, mode: str
) -> None:
    request = RunRequest(prompt="p", backend="gemini", output=mode)  # type: ignore[arg-type]
    gemini.parse_output(
        RunOutput(request=request, exit_code=exit_code, stderr=stderr, stdout=stdout)
    )


tool_names = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)


@settings(max_examples=200)
@given(
    names=st.lists(
        tool_names.filter(lambda s: "(" not in s and s.strip() == s), min_size=1, max_size=5
    )
)
def test_any_tool_name_makes_a_valid_deny_policy(names: list[str]) -> None:
    policy = tomllib.loads(disallowed_tools_policy(tuple(names)).decode())
    assert [r["toolName"] for r in policy["rule"]] == names
    assert {r["decision"] for r in policy["rule"]} == {"deny"}


@settings(max_examples=200)
@given(
    prompt=st.text(max_size=50),
    system=st.none() | st.text(max_size=20),
    mode=st.sampled_from(["replace", "append"]),
    tools=st.lists(st.text(max_size=10), max_size=3),
)
def test_any_request_text_builds_a_command(
    prompt: str, system: str | None, mode: str, tools: list[str]
) -> None:
    request = RunRequest(
        prompt=prompt,
        backend="gemini",
        system_prompt=system,
        system_prompt_mode=mode,  # type: ignore[arg-type]
        disallowed_tools=tuple(tools),
    )
    cmd = gemini.build_command(request)
    for arg in cmd.argv:
        arg.encode("utf-8")  # every argv item can be passed to exec
    if cmd.stdin is None:
        assert cmd.argv[-1] in (f"--prompt={prompt}", "")
