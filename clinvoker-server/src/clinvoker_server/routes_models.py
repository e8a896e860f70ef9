"""``GET /openai/v1/models[/{id}]`` and ``GET /anthropic/v1/models[/{id}]``.

Both list exactly the ids model routing accepts (:meth:`ModelRouter.entries`), in a stable
order — less those a named key's policy does not allow (``/models/{id}`` of such an id is a 404). The Anthropic list always says ``has_more: false`` (the SDK would otherwise paginate
forever) with ``first_id``/``last_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from clinvoker_server.anthropic_wire import AnthropicModel, AnthropicModelList
from clinvoker_server.jsonio import json_response
from clinvoker_server.models import ModelEntry
from clinvoker_server.openai_wire import Model, ModelList
from clinvoker_server.state import principal_of, server_of

__all__ = ["anthropic_model", "anthropic_models", "openai_model", "openai_models"]


def _visible(request: Request) -> list[ModelEntry]:
    """The ids routing accepts that this request's key may use."""
    policy = principal_of(request).policy
    entries = server_of(request).router.entries()
    if policy is None:
        return entries
    return [
        e
        for e in entries
        if (not policy.models or e.id in policy.models)
        and (not policy.backends or e.backend in policy.backends)
    ]


def _openai(entry: ModelEntry, created: int) -> Model:
    return Model(id=entry.id, created=created, owned_by=entry.owned_by)


def _anthropic(entry: ModelEntry, created: int) -> AnthropicModel:
    stamp = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return AnthropicModel(id=entry.id, display_name=entry.display_name, created_at=stamp)


async def openai_models(request: Request) -> Response:
    """``GET /openai/v1/models``."""
    server = server_of(request)
    data = [_openai(e, server.created) for e in _visible(request)]
    return json_response(ModelList(data=data))


def _visible_entry(request: Request) -> ModelEntry:
    """The listed entry of the path's model id, or a 404 when this key may not use it."""
    router = server_of(request).router
    entry = router.entry(request.path_params["model"])
    if entry not in _visible(request):
        raise router.unknown(entry.id)
    return entry


async def openai_model(request: Request) -> Response:
    """``GET /openai/v1/models/{model}``."""
    server = server_of(request)
    return json_response(_openai(_visible_entry(request), server.created))


async def anthropic_models(request: Request) -> Response:
    """``GET /anthropic/v1/models``."""
    server = server_of(request)
    data = [_anthropic(e, server.created) for e in _visible(request)]
    return json_response(
        AnthropicModelList(
            data=data,
            has_more=False,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )
    )


async def anthropic_model(request: Request) -> Response:
    """``GET /anthropic/v1/models/{model}``."""
    server = server_of(request)
    return json_response(_anthropic(_visible_entry(request), server.created))
