"""``-o json`` says when a turn could not be saved in its session, like ``-o text`` does.

The answer is printed and the exit code is 0 (the turn itself succeeded); the JSON object's
``warnings`` list and a ``Warning [backend]:`` line on stderr say what was not saved and why.
"""

from __future__ import annotations

import json
import re

import pytest

from reliability.support.world import World
from reliability.test_sessions import REASONS, STATES, new_session, run_confined, stored


@pytest.mark.parametrize("state", STATES)
def test_json_output_carries_the_turn_not_saved_warning(world: World, state: str) -> None:
    session_id = new_session(world)
    rc, out, err = run_confined(world, state, "resume", session_id, "-o", "json", "a follow-up")
    assert rc == 0, err
    answer = json.loads(out)
    assert answer["content"] == "echo: a follow-up"
    assert answer["error"] is None
    (warning,) = answer["warnings"]
    assert f"not saved in session {session_id[:8]}" in warning
    assert re.search(REASONS[state], warning, re.I), warning
    assert f"Warning [claude]: {warning}" in err.splitlines()
    assert stored(world, session_id)["turn_count"] == 1  # really not saved


def test_json_output_of_a_saved_turn_has_no_warnings(world: World) -> None:
    session_id = new_session(world)
    rc, out, err = world.clinvk("resume", session_id, "-o", "json", "a follow-up")
    assert rc == 0, err
    assert json.loads(out)["warnings"] == []
    assert "Warning" not in err
