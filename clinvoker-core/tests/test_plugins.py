"""Plugin discovery through entry points, failures, blocking, cross-cutting wrappers, and the
documentation of the hook contract itself."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from clinvoker import hookspecs
from clinvoker.config import Config
from clinvoker.errors import SessionError, UnknownBackend
from clinvoker.events import TextDelta
from clinvoker.plugins import PluginFailure, PluginHost
from clinvoker.request import ParseState, RunRequest
from clinvoker.session_files import FileSessionStore
from clinvoker.sessions import open_store
from plugins.sitedir import install_plugin

GOOD = ("clinvk-test-good", {"good": "clinvk_test_good"}, ["clinvk_test_good"])
BROKEN = ("clinvk-test-broken", {"broken": "clinvk_test_broken"}, ["clinvk_test_broken"])
PAIR = ("clinvk-test-pair", {"pair": "clinvk_test_pair"}, ["clinvk_test_pair"])
POLICY = ("clinvk-test-policy", {"policy": "clinvk_test_policy"}, ["clinvk_test_policy"])
REDACT = ("clinvk-test-redact", {"redact": "clinvk_test_redact"}, ["clinvk_test_redact"])
STORE = ("clinvk-test-store", {"store": "clinvk_test_store"}, ["clinvk_test_store"])


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty site directory on ``sys.path``; plugins installed into it are discoverable."""
    path = tmp_path / "site-packages"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.delenv("CLINVK_DISABLE_PLUGINS", raising=False)
    yield path
    for name in [m for m in sys.modules if m.startswith("clinvk_test_")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def install(site: Path, *plugins: tuple[str, dict[str, str], list[str]]) -> None:
    for dist, entry_points, packages in plugins:
        install_plugin(site, dist, entry_points, packages)


def ours(host: PluginHost) -> list[PluginFailure]:
    """Failures of the test plugins (other installed plugins are not this test's business)."""
    return [
        f
        for f in host.failures
        if f.name in {"good", "broken", "pair", "policy", "redact", "store"}
    ]


# -- discovery ---------------------------------------------------------------------------------


def test_an_installed_plugin_is_found_through_its_entry_point(site: Path) -> None:
    host = PluginHost()
    assert "good" not in host.backends
    install(site, GOOD)
    host = PluginHost()
    assert "good" in host.plugin_names
    good = host.backend("good")
    command = host.build_command(good, RunRequest(prompt="hello", backend="good"))
    assert (command.argv, command.stdin) == (("cat",), b"hello")
    state = ParseState(RunRequest(prompt="hello", backend="good"))
    assert host.parse_stream(good, b"hello", state) == [TextDelta(text="hello\n")]
    assert ours(host) == []


def test_a_broken_plugin_is_reported_while_the_good_one_works(site: Path) -> None:
    install(site, GOOD, BROKEN)
    host = PluginHost()
    assert ours(host) == [
        PluginFailure(
            "broken",
            "failed to import clinvk_test_broken: "
            "ModuleNotFoundError: No module named 'clinvk_missing_dependency'",
        )
    ]
    assert "broken" not in host.plugin_names
    assert host.backend("good").name == "good"


def test_clinvk_disable_plugins_blocks_plugins_by_name(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, GOOD, BROKEN, PAIR)
    monkeypatch.setenv("CLINVK_DISABLE_PLUGINS", "broken, pair")
    host = PluginHost()
    assert ours(host) == []  # a blocked plugin is not even imported
    assert "clinvk_test_broken" not in sys.modules
    assert "good" in host.backends
    assert "alpha" not in host.backends
    monkeypatch.setenv("CLINVK_DISABLE_PLUGINS", "*")
    host = PluginHost()
    assert not {"good", "alpha", "beta"} & set(host.backends)
    with pytest.raises(UnknownBackend, match=r"unknown backend 'good' \(installed: "):
        host.backend("good")


# -- cross-cutting plugins ---------------------------------------------------------------------


def test_a_policy_wrapper_adds_a_flag_to_every_backends_command(site: Path) -> None:
    install(site, PAIR, POLICY)
    host = PluginHost()
    for name in ("alpha", "beta"):
        backend = host.backend(name)
        request = RunRequest(prompt="list files", backend=name)
        own = backend.build_command(request)  # what the backend itself builds
        command = host.build_command(backend, request)
        assert command.argv == (own.argv[0], "--policy=strict", *own.argv[1:])
        assert command.env == {"POLICY": "strict"}
        assert command.stdin == own.stdin
    assert host.build_command(
        host.backend("alpha"), RunRequest(prompt="x", backend="alpha")
    ).argv == (
        "alpha-cli",
        "--policy=strict",
        "--json",
        "--",
        "x",
    )


def test_a_redaction_wrapper_filters_every_backends_events(site: Path) -> None:
    install(site, PAIR, REDACT)
    host = PluginHost()
    alpha, beta = host.backend("alpha"), host.backend("beta")
    state = ParseState(RunRequest(prompt="x", backend="alpha"))
    assert host.parse_stream(alpha, b'{"text": "the password is hunter2"}', state) == [
        TextDelta(text="the password is [redacted]")
    ]
    assert host.parse_stream(alpha, b'{"tool": "Bash"}', state) == []
    assert host.parse_stream(beta, b"say: hunter2 again", state) == [
        TextDelta(text="[redacted] again")
    ]
    assert host.parse_stream(beta, b"call: Bash", state) == []
    # without the plugin the same lines come through untouched
    plain = PluginHost(load_entry_points=False)
    plain.register(importlib.import_module("clinvk_test_pair"), "pair")
    assert [
        type(e).__name__ for e in plain.parse_stream(plain.backend("beta"), b"call: Bash", state)
    ] == ["ToolUse"]


# -- the session store hook --------------------------------------------------------------------


def test_a_plugin_can_provide_the_session_store(
    site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(site, STORE)
    monkeypatch.setenv("CLINVK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLINVK_TEST_STORE", "memory")
    store = open_store(Config(), PluginHost())
    assert type(store).__name__ == "MemoryStore"
    session = store.create(backend="claude", initial_prompt="hi")
    assert store.get(session.id[:6]).initial_prompt == "hi"
    assert not (tmp_path / "home").exists()  # nothing went to the file store
    monkeypatch.delenv("CLINVK_TEST_STORE")
    assert isinstance(open_store(Config(), PluginHost()), FileSessionStore)


def test_a_failing_store_plugin_is_a_clear_error(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, STORE)
    monkeypatch.setenv("CLINVK_TEST_STORE", "broken")
    with pytest.raises(SessionError) as info:
        open_store(Config(), PluginHost())
    assert str(info.value) == (
        "the session store plugin failed: ConnectionError: cannot reach the shared store at "
        "10.0.0.9:6379. Fix or disable it with CLINVK_DISABLE_PLUGINS=<name>."
    )


# -- the contract is documented ----------------------------------------------------------------


def undocumented(module: types.ModuleType) -> list[str]:
    """Every hookspec in ``module`` without a docstring, or with an argument its docstring
    does not describe as ``:param name:``."""
    problems = []
    for name, function in inspect.getmembers(module, inspect.isfunction):
        if not hasattr(function, f"{hookspecs.PROJECT}_spec"):
            continue
        doc = inspect.getdoc(function) or ""
        if not doc.strip():
            problems.append(f"{name}: no docstring")
            continue
        for argument in inspect.signature(function).parameters:
            if not re.search(rf"^:param {argument}:\s*\S", doc, re.MULTILINE):
                problems.append(f"{name}: argument {argument!r} is not described")
    return problems


def hook_names() -> list[str]:
    return [
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{hookspecs.PROJECT}_spec")
    ]


def test_every_hookspec_documents_itself_and_each_argument() -> None:
    assert len(hook_names()) >= 6
    assert undocumented(hookspecs) == []


def test_the_documentation_check_catches_a_careless_hook() -> None:
    careless = types.ModuleType("careless")

    @hookspecs.hookspec
    def clinvoker_no_doc(backend: object) -> None:
        pass

    @hookspecs.hookspec
    def clinvoker_half_doc(backend: object, line: bytes) -> None:
        """Called sometimes.

        :param backend: the backend.
        """

    careless.clinvoker_no_doc = clinvoker_no_doc  # type: ignore[attr-defined]
    careless.clinvoker_half_doc = clinvoker_half_doc  # type: ignore[attr-defined]
    assert undocumented(careless) == [
        "clinvoker_half_doc: argument 'line' is not described",
        "clinvoker_no_doc: no docstring",
    ]


def test_every_hook_has_a_typed_facade_on_the_host() -> None:
    facade = {"clinvoker_register_backends": "backends"}
    for name in hook_names():
        method = facade.get(name, name.removeprefix("clinvoker_"))
        assert hasattr(PluginHost, method), f"PluginHost has no facade for {name}"
