"""Every route of a running ``clinvk serve``, fuzzed from its own ``/openapi.json``.

Schemathesis generates requests for each operation the served document lists — valid ones
and, separately, ones that break the schema on purpose. Whatever it sends, the server answers
without a 5xx, with a status code and content type the document declares, and with a body that
matches the declared schema. The number of examples is bounded so the module runs in ~1 minute.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from reliability.support.server import API_KEY, ServerProcess

AUTH = {"Authorization": f"Bearer {API_KEY}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SPEC: dict[str, Any] = importlib.import_module("clinvoker_server.openapi").build_spec()
"""The document the server serves (checked against the served one below)."""
OPERATIONS = [(m.upper(), p) for p, methods in SPEC["paths"].items() for m in methods]
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 40}
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in EXAMPLES
    # an operation without parameters or body has nothing to send that breaks its schema
    if mode is GenerationMode.POSITIVE
    or {"parameters", "requestBody"} & SPEC["paths"][path][method.lower()].keys()
]


@pytest.fixture(scope="module")
def served_schema(fault_server: ServerProcess) -> Any:
    """The document the running server serves (fetched with a key, like any client would)."""
    return schemathesis.openapi.from_url(f"{fault_server.url}/openapi.json", headers=AUTH)


def test_the_fuzzed_operations_are_every_served_route(fault_server: ServerProcess) -> None:
    document = httpx.get(f"{fault_server.url}/openapi.json", headers=AUTH).json()
    served = {(m.upper(), p) for p, methods in document["paths"].items() for m in methods}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES]
)
def test_no_input_makes_the_server_fail_or_break_its_own_schema(
    served_schema: Any, fault_server: ServerProcess, method: str, path: str, mode: GenerationMode
) -> None:
    strategy = served_schema[path][method].as_strategy(generation_mode=mode)

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        case = data.draw(strategy)
        response = case.call(base_url=fault_server.url, headers=AUTH, timeout=30)
        case.validate_response(response, checks=CHECKS)

    check()


POSTS = [path for method, path in OPERATIONS if method == "POST"]
NESTED = 5000
HOSTILE_BODIES = {
    "deep_object": b'{"a":' * NESTED + b"1" + b"}" * NESTED,
    "deep_array": b'{"model":"claude","messages":' + b"[" * NESTED + b"]" * NESTED + b"}",
    "deep_content": b'{"model":"claude","max_tokens":1,"prompt":"x","input":[{"role":"user",'
    b'"content":' + b"[" * 990 + b'"x"' + b"]" * 990 + b"}]}",
    "invalid_utf8": b'{"prompt":"\xff\xfe","model":"claude"}',
    "nul": b'{"prompt":"a\\u0000b","model":"claude","messages":[{"role":"user","content":"a\\u0000"}]}',
    "not_json": b"prompt=hello&model=claude",
    "empty": b"",
    "huge_number": b'{"max_tokens":' + b"9" * 5000 + b',"model":"claude","prompt":"x"}',
    "too_large": b'{"prompt":"' + b"x" * (11 * 1024 * 1024) + b'"}',
}


@pytest.mark.parametrize("body", sorted(HOSTILE_BODIES))
@pytest.mark.parametrize("path", POSTS)
def test_hostile_bodies_are_refused_with_a_4xx(
    fault_server: ServerProcess, path: str, body: str
) -> None:
    target = path.replace("{id}", "0123456789abcdef0123456789abcdef")
    with fault_server.client() as client:
        answer = client.post(
            target, content=HOSTILE_BODIES[body], headers={"content-type": "application/json"}
        )
    if body == "nul" and path.endswith("count_tokens"):
        assert answer.status_code == 200  # nothing runs: a NUL is only refused on its way to a CLI
        return
    assert 400 <= answer.status_code < 500, f"{body}: {answer.status_code} {answer.text[:300]}"
    assert "error" in answer.json()
