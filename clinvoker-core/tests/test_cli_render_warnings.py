"""Non-fatal errors (a turn that could not be saved, a backend's notice) under every ``-o``.

``text`` always showed them on stderr; ``json`` lists them in its object (and shows them on
stderr too), ``stream-json`` in its ``done`` line's result, ``--native`` on stderr only.
"""

from __future__ import annotations

import io
import json

from clinvoker.cli.render import make_renderer
from clinvoker.events import Done, Error, Event, TextDelta
from clinvoker.result import Result

UNSAVED = "this turn was not saved in session 0123abcd: the session directory is read-only"
RESULT = Result(backend="claude", content="Hi")
EVENTS: list[Event] = [
    TextDelta(seq=1, text="Hi"),
    Error(seq=2, message=UNSAVED, code="session_write_failed", fatal=False),
    Done(seq=3, result=RESULT),
]


def render(output_format: str, *, native: bool = False) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    renderer = make_renderer(output_format, out=out, err=err, backend="claude", native=native)
    for event in EVENTS:
        renderer.event(event)
    renderer.finish(RESULT)
    return out.getvalue(), err.getvalue()


def test_json_lists_the_warning_and_shows_it_on_stderr() -> None:
    out, err = render("json")
    data = json.loads(out)
    assert data["warnings"] == [UNSAVED]
    assert data["content"] == "Hi"
    assert data["error"] is None  # a warning, not a failure
    assert err == f"Warning [claude]: {UNSAVED}\n"


def test_json_without_warnings_has_an_empty_list() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = make_renderer("json", out=out, err=err, backend="claude")
    renderer.event(TextDelta(seq=1, text="Hi"))
    renderer.finish(RESULT)
    assert json.loads(out.getvalue())["warnings"] == []
    assert err.getvalue() == ""


def test_stream_json_done_result_lists_the_warning_like_json() -> None:
    out, err = render("stream-json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["type"] for line in lines] == ["text_delta", "error", "done"]
    assert lines[1]["fatal"] is False
    assert lines[1]["message"] == UNSAVED
    assert lines[-1]["result"] == json.loads(render("json")[0])  # the same object as -o json
    assert err == ""  # already on stdout, as an event


def test_native_keeps_stdout_to_the_cli_and_warns_on_stderr() -> None:
    out, err = render("stream-json", native=True)
    assert out == ""  # only the CLI's own lines go there (none were fed here)
    assert err == f"Warning [claude]: {UNSAVED}\n"


def test_text_still_warns_once_on_stderr() -> None:
    out, err = render("text")
    assert out == "Hi\n"
    assert err == f"Warning [claude]: {UNSAVED}\n"
