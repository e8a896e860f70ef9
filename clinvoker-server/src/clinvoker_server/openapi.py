"""``GET /openapi.json`` (OpenAPI 3.1, generated from the wire Structs) and ``GET /docs``.

Request and response schemas come from the msgspec Structs the handlers really use
(:func:`msgspec.json.schema_components`), so the spec cannot drift from the code; the table
below adds each route's method, path, parameters, streaming media types and error shape.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from clinvoker_server import __version__
from clinvoker_server import anthropic_wire as aw
from clinvoker_server import native_wire as nw
from clinvoker_server import openai_wire as ow
from clinvoker_server.errors import AnthropicErrorBody, NativeErrorBody, OpenAIErrorBody

__all__ = ["build_spec", "docs_page", "openapi_json"]

_SSE = "text/event-stream"
_NDJSON = "application/x-ndjson"

# (method, path, summary, request, response, stream media types, error body, path params, query)
_OPS: list[tuple[str, str, str, Any, Any, tuple[str, ...], Any, tuple[str, ...], tuple[str, ...]]] = [
    ("post", "/api/v1/prompt", "Run one prompt (JSON, NDJSON or SSE)", nw.PromptRequest, (nw.PromptResponse, nw.DryRunCommand), (_NDJSON, _SSE), NativeErrorBody, (), ()),
    ("post", "/api/v1/parallel", "Run several tasks in parallel", nw.ParallelRequest, None, (_NDJSON,), NativeErrorBody, (), ()),
    ("post", "/api/v1/chain", "Run steps one after another", nw.ChainRequest, None, (_NDJSON,), NativeErrorBody, (), ()),
    ("post", "/api/v1/compare", "Run one prompt on several backends", nw.CompareRequest, None, (_NDJSON,), NativeErrorBody, (), ()),
    ("get", "/api/v1/backends", "List the backends and whether their CLI is installed", None, nw.BackendList, (), NativeErrorBody, (), ()),
    ("get", "/api/v1/sessions", "List sessions", None, nw.SessionList, (), NativeErrorBody, (), ("backend", "status", "workdir", "model", "tag", "since", "limit", "offset")),
    ("get", "/api/v1/sessions/{id}", "Get a session by id or unique prefix", None, nw.SessionInfo, (), NativeErrorBody, ("id",), ()),
    ("delete", "/api/v1/sessions/{id}", "Delete a session", None, nw.DeleteResponse, (), NativeErrorBody, ("id",), ()),
    ("post", "/api/v1/sessions/{id}/resume", "Continue a stored session", nw.ResumeRequest, nw.PromptResponse, (_NDJSON, _SSE), NativeErrorBody, ("id",), ()),
    ("post", "/openai/v1/chat/completions", "OpenAI chat completions (SSE when stream is true)", ow.ChatRequest, ow.ChatCompletion, (_SSE,), OpenAIErrorBody, (), ()),
    ("post", "/openai/v1/responses", "OpenAI responses (SSE when stream is true)", ow.ResponsesRequest, ow.ResponseObject, (_SSE,), OpenAIErrorBody, (), ()),
    ("get", "/openai/v1/models", "List the model ids routing accepts", None, ow.ModelList, (), OpenAIErrorBody, (), ()),
    ("get", "/openai/v1/models/{model}", "Get one model id", None, ow.Model, (), OpenAIErrorBody, ("model",), ()),
    ("post", "/anthropic/v1/messages", "Anthropic messages (SSE when stream is true)", aw.MessagesRequest, aw.MessageResponse, (_SSE,), AnthropicErrorBody, (), ()),
    ("post", "/anthropic/v1/messages/count_tokens", "Estimate input tokens", aw.CountTokensRequest, aw.TokenCount, (), AnthropicErrorBody, (), ()),
    ("get", "/anthropic/v1/models", "List the model ids routing accepts", None, aw.AnthropicModelList, (), AnthropicErrorBody, (), ()),
    ("get", "/anthropic/v1/models/{model}", "Get one model id", None, aw.AnthropicModel, (), AnthropicErrorBody, ("model",), ()),
]  # fmt: skip

_ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "422", "429", "500", "502", "503", "504")  # fmt: skip


def _ref(kind: Any) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{kind.__name__}"}


def _operation(
    method: str,
    summary: str,
    request: Any,
    response: Any,
    streams: tuple[str, ...],
    error: Any,
    path_params: tuple[str, ...],
    query: tuple[str, ...],
) -> dict[str, Any]:
    if isinstance(response, tuple):  # one of several shapes (``wire_format``)
        schema: dict[str, Any] = {"oneOf": [_ref(kind) for kind in response]}
    else:
        schema = _ref(response) if response else {"type": "object"}
    ok: dict[str, Any] = {"application/json": {"schema": schema}}
    for media in streams:
        ok[media] = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": ok}}
    for status in _ERROR_STATUSES:
        responses[status] = {
            "description": "Error",
            "content": {"application/json": {"schema": _ref(error)}},
        }
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in path_params
    ]
    params += [
        {"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query
    ]
    if params:
        op["parameters"] = params
    if request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(request)}},
        }
    return op


def build_spec() -> dict[str, Any]:
    """The OpenAPI document."""
    kinds: set[Any] = {NativeErrorBody, OpenAIErrorBody, AnthropicErrorBody}
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, req, resp, streams, err, pp, query in _OPS:
        responses = resp if isinstance(resp, tuple) else (resp,)
        kinds.update(k for k in (req, *responses) if k is not None)
        paths.setdefault(path, {})[method] = _operation(
            method, summary, req, resp, streams, err, pp, query
        )
    paths["/health"] = {
        "get": {
            "summary": "Health (no API key needed)",
            "security": [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": {
                    "description": "Missing or invalid API key",
                    "content": {"application/json": {"schema": _ref(NativeErrorBody)}},
                },
                "404": {
                    "description": "Metrics are disabled (server.metrics_enabled is false)",
                    "content": {"application/json": {"schema": _ref(NativeErrorBody)}},
                },
            },
        }
    }
    _, components = msgspec.json.schema_components(
        sorted(kinds, key=lambda k: k.__name__), ref_template="#/components/schemas/{name}"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "clinvoker API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


_SPEC: bytes | None = None


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json`` (built once)."""
    global _SPEC
    if _SPEC is None:
        _SPEC = msgspec.json.encode(build_spec())
    return Response(_SPEC, media_type="application/json")


_DOCS = """<!doctype html>
<html><head><meta charset="utf-8"><title>clinvoker API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2rem}td{padding:.2rem .6rem;vertical-align:top}</style></head>
<body><h1>clinvoker API</h1>
<p>The machine-readable spec is <a href="openapi.json"><code>/openapi.json</code></a> (OpenAPI 3.1).
Send the API key as <code>Authorization: Bearer &lt;key&gt;</code> or <code>x-api-key</code>.</p>
<table>{rows}</table></body></html>"""


async def docs_page(request: Request) -> Response:
    """``GET /docs``: a small HTML index of the routes."""
    rows = "".join(
        f"<tr><td><code>{m.upper()}</code></td><td><code>{p}</code></td><td>{s}</td></tr>"
        for m, p, s, *_ in _OPS
    )
    return HTMLResponse(_DOCS.replace("{rows}", rows))
