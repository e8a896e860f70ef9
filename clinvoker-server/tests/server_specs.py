"""Validate response bodies and stream events against the OpenAI and Anthropic schemas."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SPECS = Path(__file__).with_name("specs")


def _denull(node: Any) -> Any:
    if isinstance(node, list):
        return [_denull(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _denull(v) for k, v in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _openai() -> dict[str, Any]:
    spec = json.loads((SPECS / "openai.subset.json").read_text())
    return {"components": _denull(spec["components"])}


@functools.cache
def _anthropic() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPECS / "anthropic-sdk-types.schema.json").read_text())
    return data["schemas"]


@functools.cache
def _openai_event_schemas() -> dict[str, str]:
    """``response.created`` -> ``ResponseCreatedEvent`` and so on."""
    found: dict[str, str] = {}
    for name, schema in _openai()["components"]["schemas"].items():
        kind = schema.get("properties", {}).get("type", {}) if isinstance(schema, dict) else {}
        enum = kind.get("enum") if isinstance(kind, dict) else None
        if name.endswith("Event") and enum and len(enum) == 1:
            found[enum[0]] = name
    return found


def openai(instance: Any, name: str) -> None:
    """Validate ``instance`` against OpenAI component ``name`` (raises ``ValidationError``)."""
    schema = {"$ref": f"#/components/schemas/{name}", **_openai()}
    jsonschema.Draft202012Validator(schema).validate(instance)


def openai_event(event: dict[str, Any]) -> None:
    """Validate one Responses stream event by its ``type``."""
    openai(event, _openai_event_schemas()[event["type"]])


def anthropic(instance: Any, root: str) -> None:
    """Validate against an SDK type: Message, RawMessageStreamEvent, ErrorResponse, ModelInfo,
    MessageTokensCount."""
    jsonschema.Draft202012Validator(_anthropic()[root]).validate(instance)
