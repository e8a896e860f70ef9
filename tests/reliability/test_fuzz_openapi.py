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
