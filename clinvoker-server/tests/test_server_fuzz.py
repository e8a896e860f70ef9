"""Arbitrary JSON bodies never crash a handler: every answer is a 2xx or a 4xx in the family shape."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
text_part = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "input_text", "x"]), "text": json_values}
)
content = st.one_of(
    st.text(max_size=10), st.lists(text_part | json_values, max_size=3), json_values
)
message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "developer", "tool", "bogus"]),
        "content": content,
    }
)
bodies = {
    "/openai/v1/chat/completions": st.fixed_dictionaries(
        {
            "model": st.sampled_from(["stub", "stub/echo", "nope"]),
            "messages": st.lists(message, max_size=3),
        },
        optional={
            "stream": st.booleans(),
            "stream_options": json_values,
            "temperature": json_values,
        },
    ),
    "/openai/v1/responses": st.fixed_dictionaries(
        {
            "model": st.sampled_from(["stub", "nope"]),
            "input": st.text(max_size=5) | st.lists(message, max_size=3),
        },
        optional={"instructions": json_values},
    ),
    "/anthropic/v1/messages": st.fixed_dictionaries(
        {
            "model": st.sampled_from(["stub", "nope"]),
            "max_tokens": st.integers(-1, 5),
            "messages": st.lists(message, max_size=3),
        },
        optional={"system": content},
    ),
    "/api/v1/prompt": st.fixed_dictionaries(
        {"prompt": st.text(max_size=5)},
        optional={
            "backend": st.sampled_from(["stub", "ghost", ""]),
            "extra": json_values,
            "workdir": st.sampled_from(["", "/tmp", "rel", "/tmp/\x00x"]),
        },
    ),
}


@pytest.mark.parametrize("path", sorted(bodies))
def test_random_bodies_get_a_clean_answer(server, path):
    with server.client() as c:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies[path])
        def check(body: object) -> None:
            r = c.post(path, json=body)
            assert r.status_code in (200, 400, 403, 404, 422), (body, r.status_code, r.text)
            if r.status_code != 200:
                error = r.json()["error"]
                assert error["message"]

        check()


def test_any_json_value_is_refused_cleanly(server):
    with server.client() as c:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=json_values, path=st.sampled_from(sorted(bodies)))
        def check(body: object, path: str) -> None:
            r = c.post(path, json=body)
            assert r.status_code in (400, 422), (body, r.status_code, r.text)

        check()
