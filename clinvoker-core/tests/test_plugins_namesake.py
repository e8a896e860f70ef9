"""A run builds only its own backend; collecting them all later keeps that same object."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from clinvoker.hookspecs import hookimpl
from clinvoker.plugins import PluginHost
from clinvoker.request import RunRequest

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FakeBackend


class Alpha(FakeBackend):
    name = "alpha"


class Beta(FakeBackend):
    name = "beta"


class Registrar:
    def __init__(self, cls: type[FakeBackend]) -> None:
        self.cls = cls
        self.calls = 0

    @hookimpl
    def clinvoker_register_backends(self, register: Any) -> None:
        self.calls += 1
        register(self.cls())


def test_a_backend_is_built_without_building_the_others_and_stays_the_same_object() -> None:
    alpha, beta = Registrar(Alpha), Registrar(Beta)
    host = PluginHost(plugins=[("alpha", alpha), ("beta", beta)], load_entry_points=False)
    chosen = host.backend("alpha")
    assert (alpha.calls, beta.calls) == (1, 0)
    command = host.build_command(chosen, RunRequest(prompt="hi", backend="alpha"))
    assert command.argv[0] == "fake-cli"
    assert list(host.backends) == ["alpha", "beta"]
    assert host.backends["alpha"] is chosen  # hooks dispatch on identity
    assert host.backend("alpha") is chosen
    assert host.build_command(chosen, RunRequest(prompt="hi", backend="alpha")) == command


def test_a_backend_from_a_plugin_of_another_name_is_found_by_collecting_them_all() -> None:
    other = Registrar(Alpha)
    host = PluginHost(plugins=[("not-alpha", other)], load_entry_points=False)
    assert host.backend("alpha").name == "alpha"
    assert other.calls == 1
