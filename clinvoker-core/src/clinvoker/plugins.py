"""Plugin discovery and a typed facade over the hooks.

Plugins come from the entry-point group ``clinvoker``. ``CLINVK_DISABLE_PLUGINS`` (comma
separated entry-point names, or ``*`` for all) blocks plugins by name. A plugin that fails to
import or to register is recorded in :attr:`PluginHost.failures` (shown by ``clinvk backends``)
and everything else keeps working.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from clinvoker import hookspecs
from clinvoker.errors import BackendCrashed, UnknownBackend

if TYPE_CHECKING:
    import click

    from clinvoker.backend import Backend
    from clinvoker.config import Config
    from clinvoker.events import Event
    from clinvoker.request import Command, ParseState, RunOutput, RunRequest
    from clinvoker.result import Result
    from clinvoker.sessions import SessionStore

__all__ = ["ENTRY_POINT_GROUP", "PluginFailure", "PluginHost", "get_host", "reset_host"]

ENTRY_POINT_GROUP = "clinvoker"


class PluginFailure:
    """A plugin that could not be loaded or registered: its name and the error, one line.

    A plain immutable value class (not a msgspec struct: ``clinvk --help`` loads this module and
    should not pay for importing msgspec).
    """

    __slots__ = ("error", "name")

    name: str
    error: str

    def __init__(self, name: str, error: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "error", error)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"PluginFailure is immutable (cannot set {key!r})")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"PluginFailure is immutable (cannot delete {key!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PluginFailure):
            return NotImplemented
        return (self.name, self.error) == (other.name, other.error)

    def __hash__(self) -> int:
        return hash((self.name, self.error))

    def __repr__(self) -> str:
        return f"PluginFailure(name={self.name!r}, error={self.error!r})"


def disabled_plugins() -> frozenset[str]:
    raw = os.environ.get("CLINVK_DISABLE_PLUGINS", "")
    return frozenset(p.strip() for p in raw.split(",") if p.strip())


class PluginHost:
    """Owns the pluggy manager, the loaded plugins and the registered backends."""

    def __init__(
        self, *, load_entry_points: bool = True, plugins: Iterable[tuple[str, Any]] = ()
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.plugin_names: list[str] = []
        self._backends: dict[str, Backend] | None = None
        self._namesakes: dict[str, Backend] = {}
        for name, plugin in plugins:
            self.register(plugin, name)
        if load_entry_points:
            self._load_entry_points()

    # -- loading -------------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        blocked = disabled_plugins()
        seen: set[str] = set()
        for name, value in entry_point_specs(ENTRY_POINT_GROUP):
            if name in seen:
                continue
            seen.add(name)
            if "*" in blocked or name in blocked:
                continue
            if self.pm.has_plugin(name):
                continue
            try:
                plugin = load_entry_point(value)
            except Exception as exc:
                self.failures.append(
                    PluginFailure(name, f"failed to import {value}: {_one_line(exc)}")
                )
                continue
            self.register(plugin, name)

    def register(self, plugin: Any, name: str) -> None:
        """Register a plugin object or module under ``name`` (failures are recorded, not raised)."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self.failures.append(PluginFailure(name, f"failed to register: {_one_line(exc)}"))
            return
        self.plugin_names.append(name)
        self._backends = None

    # -- backends ------------------------------------------------------------------------------

    @property
    def backends(self) -> dict[str, Backend]:
        """Registered backends by name, in name order (registration happens on first access)."""
        if self._backends is None:
            self._backends = self._collect_backends()
        return self._backends

    def _collect_backends(self) -> dict[str, Backend]:
        from clinvoker.backend import Backend

        found: dict[str, Backend] = {}

        plugin_name = ""

        def register(backend: Backend) -> None:
            if not isinstance(backend, Backend):
                raise TypeError(f"{backend!r} is not a clinvoker.backend.Backend")
            if backend.name in found:
                raise ValueError(f"backend name {backend.name!r} is already registered")
            if backend.name == plugin_name and backend.name in self._namesakes:
                backend = self._namesakes[backend.name]  # already in use: keep that object
            found[backend.name] = backend

        for impl in self.pm.hook.clinvoker_register_backends.get_hookimpls():
            plugin_name = impl.plugin_name
            before = set(found)
            try:
                impl.function(register=register)
            except Exception as exc:
                for name in set(found) - before:
                    found.pop(name)
                self.failures.append(
                    PluginFailure(
                        impl.plugin_name, f"failed to register backends: {_one_line(exc)}"
                    )
                )
        for backend in found.values():
            if not self.pm.is_registered(backend):
                self.pm.register(backend, name=f"backend:{backend.name}")
        return dict(sorted(found.items()))

    def backend(self, name: str) -> Backend:
        """The backend called ``name``, or :class:`UnknownBackend` listing the installed ones.

        When the plugin whose entry point has that same name registers it (as the
        clinvoker-backend-* packages do), only that plugin's backends are created: a run does
        not import the backends it does not use. Anything else collects them all.
        """
        if self._backends is None:
            namesake = self._namesake(name)
            if namesake is not None:
                return namesake
        try:
            return self.backends[name]
        except KeyError:
            installed = ", ".join(self.backends) or "none"
            raise UnknownBackend(
                f"unknown backend {name!r} (installed: {installed})",
                hint="install one with e.g. `pip install clinvoker-backend-claude`"
                if not self.backends
                else None,
                backend=name,
            ) from None

    def _namesake(self, name: str) -> Backend | None:
        """Backend ``name`` from the plugin of the same entry-point name alone, else ``None``."""
        known = self._namesakes.get(name)
        if known is not None:
            return known
        impls = [
            impl
            for impl in self.pm.hook.clinvoker_register_backends.get_hookimpls()
            if impl.plugin_name == name
        ]
        if len(impls) != 1:
            return None
        from clinvoker.backend import Backend

        made: list[Backend] = []
        try:
            impls[0].function(register=made.append)
        except Exception:
            return None  # collecting them all records the failure
        chosen = [b for b in made if isinstance(b, Backend) and b.name == name]
        if len(chosen) != 1 or len(made) != len({id(b) for b in made}):
            return None
        backend = chosen[0]
        if not self.pm.is_registered(backend):
            self.pm.register(backend, name=f"backend:{name}")
        self._namesakes[name] = backend
        return backend

    # -- typed facade over the per-backend hooks -----------------------------------------------

    def build_command(self, backend: Backend, request: RunRequest) -> Command:
        cmd: Command | None = self.pm.hook.clinvoker_build_command(backend=backend, request=request)
        if cmd is None:
            raise BackendCrashed(
                f"no plugin built a command for backend {backend.name!r}", backend=backend.name
            )
        return cmd

    def parse_stream(self, backend: Backend, line: bytes, state: ParseState) -> list[Event]:
        events: list[Event] | None = self.pm.hook.clinvoker_parse_stream(
            backend=backend, line=line, state=state
        )
        return events or []

    def parse_output(self, backend: Backend, output: RunOutput) -> Result:
        result: Result | None = self.pm.hook.clinvoker_parse_output(backend=backend, output=output)
        if result is None:
            from clinvoker.backend import fold_events

            return fold_events(backend.name, output)
        return result

    def register_commands(self, cli: click.Group) -> None:
        for impl in self.pm.hook.clinvoker_register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self.failures.append(
                    PluginFailure(impl.plugin_name, f"failed to add commands: {_one_line(exc)}")
                )

    def session_store(self, config: Config) -> SessionStore | None:
        store: SessionStore | None = self.pm.hook.clinvoker_session_store(config=config)
        return store


def entry_point_specs(group: str) -> list[tuple[str, str]]:
    """``(name, "module:attr")`` of the entry points in ``group``, in ``sys.path`` order.

    Reads ``entry_points.txt`` of every ``*.dist-info``/``*.egg-info`` directory found in the
    ``sys.path`` directories (the first distribution of a name wins), which is what
    ``importlib.metadata`` does, without importing it: that import alone is one of the largest
    costs of every ``clinvk`` start-up (see benchmarks/RESULTS.md). A zip file on ``sys.path`` or
    a custom distribution finder falls back to ``importlib.metadata``.
    """
    import sys
    from importlib.machinery import PathFinder

    unusual = any(
        hasattr(finder, "find_distributions") and finder is not PathFinder
        for finder in sys.meta_path
    )
    if unusual or any(os.path.isfile(entry) for entry in sys.path if entry):
        from importlib.metadata import entry_points

        return [(ep.name, ep.value) for ep in entry_points(group=group)]
    found: list[tuple[str, str]] = []
    dists: set[str] = set()
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for info in names:
            if not info.endswith((".dist-info", ".egg-info")):
                continue
            dist = info.rpartition(".")[0].partition("-")[0].lower().replace(".", "_")
            if dist in dists:
                continue
            dists.add(dist)
            try:
                with open(os.path.join(folder, info, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            found += _group_of(text, group)
    return found


def _group_of(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` lines of section ``[group]`` of an ``entry_points.txt``."""
    section = None
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, value = line.split("=", 1)
            found.append((name.strip(), value.strip()))
    return found


def load_entry_point(value: str) -> Any:
    """Import ``module[:attr.attr]`` (extras in brackets are ignored) and return the object."""
    import importlib

    module, _, attrs = value.split("[", 1)[0].partition(":")
    obj: Any = importlib.import_module(module.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host (created on first use)."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host


def reset_host(host: PluginHost | None = None) -> None:
    """Replace (or drop) the process-wide host; for tests and embedding."""
    global _host
    _host = host
