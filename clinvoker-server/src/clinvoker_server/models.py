"""Model routing for the OpenAI and Anthropic APIs: which backend (and model) a model id means.

A model id is one of:

* a backend name — ``claude`` — that backend with its configured/default model;
* ``backend/model`` — ``claude/sonnet``, ``codex/gpt-5.5`` — where ``model`` is one the backend
  lists (``Backend.models``), one of its aliases (``fast``, ``best``...), or its configured model;
* a configured alias — ``server.model_aliases: {"gpt-4o": "codex/gpt-5.5"}`` — whose target is
  either of the above.

``GET /models`` lists exactly these ids. Anything else is a 404 in the API's own shape, unless
``server.route_unknown_models`` is on: then ``backend/anything`` goes to that backend with that
model, and any other id to the default backend with its default model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from clinvoker_server.errors import UnknownModel

if TYPE_CHECKING:
    from clinvoker.backend import Backend

__all__ = ["ModelEntry", "ModelRoute", "ModelRouter"]

_OWNERS = {"claude": "anthropic", "codex": "openai", "gemini": "google"}


class ModelRoute(msgspec.Struct, frozen=True, kw_only=True):
    """Where a model id goes: the backend, and the model to ask it for (``None`` = its default)."""

    id: str
    backend: str
    model: str | None = None


class ModelEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One listed model id."""

    id: str
    backend: str
    model: str | None
    owned_by: str
    display_name: str


class ModelRouter:
    """Resolves and lists model ids for one server."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        aliases: Mapping[str, str] | None = None,
        configured_models: Mapping[str, str] | None = None,
        default_backend: str = "claude",
        route_unknown: bool = False,
    ) -> None:
        self.backends = dict(backends)
        self.default_backend = default_backend
        self.route_unknown = route_unknown
        self._routes: dict[str, ModelRoute] = {}
        self._entries: dict[str, ModelEntry] = {}
        configured = dict(configured_models or {})
        for name, backend in sorted(self.backends.items()):
            self._add(name, name, None, backend)
            names = [*backend.models, *backend.model_aliases]
            if configured.get(name):
                names.append(configured[name])
            for model in dict.fromkeys(names):
                self._add(f"{name}/{model}", name, model, backend)
        for alias, target in sorted((aliases or {}).items()):
            route = self._routes.get(target) or self._loose(target)
            if route is None:
                continue
            backend = self.backends[route.backend]
            self._add(alias, route.backend, route.model, backend)

    def _add(self, model_id: str, backend_name: str, model: str | None, backend: Backend) -> None:
        if model_id in self._routes:
            return
        self._routes[model_id] = ModelRoute(id=model_id, backend=backend_name, model=model)
        label = backend.display_name or backend_name
        self._entries[model_id] = ModelEntry(
            id=model_id,
            backend=backend_name,
            model=model,
            owned_by=_OWNERS.get(backend_name, backend_name),
            display_name=f"{label} ({model})" if model else label,
        )

    def _loose(self, model_id: str) -> ModelRoute | None:
        backend, sep, model = model_id.partition("/")
        if sep and backend in self.backends and model:
            return ModelRoute(id=model_id, backend=backend, model=model)
        return None

    def entries(self) -> list[ModelEntry]:
        """Every id routing accepts, backends first, in a stable order."""
        return list(self._entries.values())

    def entry(self, model_id: str) -> ModelEntry:
        """The listed entry for ``model_id`` or :class:`UnknownModel`."""
        entry = self._entries.get(model_id)
        if entry is None:
            raise self.unknown(model_id)
        return entry

    def resolve(self, model_id: str) -> ModelRoute:
        """The route for ``model_id`` (see the module docstring)."""
        route = self._routes.get(model_id)
        if route is not None:
            return route
        if self.route_unknown:
            loose = self._loose(model_id)
            if loose is not None:
                return loose
            if self.default_backend in self.backends:
                return ModelRoute(id=model_id, backend=self.default_backend, model=None)
        raise self.unknown(model_id)

    def unknown(self, model_id: str) -> UnknownModel:
        """The 404 for ``model_id`` (listing the known ids)."""
        ids = list(self._entries)
        known = ", ".join(ids[:12]) or "none (no backend is installed)"
        more = " ..." if len(ids) > 12 else ""
        exc = UnknownModel(
            f"the model {model_id!r} does not exist on this server (known: {known}{more})",
            hint="list the models with GET /models, or use a backend name such as "
            f"{self.default_backend!r}",
        )
        exc.param = "model"  # type: ignore[attr-defined]
        return exc
