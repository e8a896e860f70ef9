"""Finding a backend's CLI and probing its version (with a cache that survives processes)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from clinvoker.availability import (
    VersionCache,
    check_backend,
    check_backends,
    find_executable,
    probe_version,
    require_executable,
)
from clinvoker.config import load_config
from clinvoker.errors import BackendUnavailable

sys.path.insert(0, str(Path(__file__).with_name("support")))
from core_fakes import FakeBackend, fake_host, install_fake_cli, read_log


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty clinvk home and a PATH without fake-cli."""
    monkeypatch.setenv("CLINVK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLINVK_CONFIG", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("FAKE_CLI_LOG", str(tmp_path / "calls.jsonl"))
    return tmp_path


def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    exe = install_fake_cli(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    return exe


def version_probes(tmp_path: Path) -> int:
    return sum(1 for call in read_log(tmp_path / "calls.jsonl") if "--version" in call["argv"])


def test_missing_cli_error_names_the_cli_and_how_to_install_it(isolated: Path) -> None:
    with pytest.raises(BackendUnavailable) as info:
        require_executable(FakeBackend())
    message = str(info.value)
    assert message == (
        "fake-cli CLI not found on PATH; install it with `pip install fake-cli` "
        "or set backends.fake.path in the config"
    )
    assert "\n" not in message
    assert info.value.exit_code == 4


def test_the_cli_is_found_on_path(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = on_path(isolated, monkeypatch)
    assert find_executable(FakeBackend()) == str(exe)


def test_config_path_wins_over_path(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(isolated, monkeypatch)
    other = install_fake_cli(isolated / "elsewhere", name="my-fake")
    config = load_config(overrides={"backends.fake.path": str(other)})
    assert find_executable(FakeBackend(), config) == str(other)


def test_a_wrong_config_path_is_reported_not_silently_replaced(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path(isolated, monkeypatch)
    config = load_config(overrides={"backends.fake.path": str(isolated / "nope" / "fake-cli")})
    with pytest.raises(BackendUnavailable, match=r"backends\.fake\.path is .*fix the path"):
        require_executable(FakeBackend(), config)


def test_report_has_version_and_tested_range(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = on_path(isolated, monkeypatch)
    report = asyncio.run(check_backend(FakeBackend()))
    assert report.installed
    assert report.path == str(exe)
    assert report.version == "1.4.2"
    assert report.tested is True
    assert report.error is None
    assert b"1.4.2" in (isolated / "home" / "cache" / "versions.json").read_bytes()


def test_an_untested_version_is_flagged(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(isolated, monkeypatch)
    monkeypatch.setenv("FAKE_CLI_VERSION", "fake-cli 2.0.1")
    report = asyncio.run(check_backend(FakeBackend(), cache=VersionCache(isolated / "c.json")))
    assert report.version == "2.0.1"
    assert report.tested is False


def test_report_for_a_missing_cli(isolated: Path) -> None:
    assert [r.backend for r in asyncio.run(check_backends(fake_host(), probe=False))] == [
        "fake",
        "fake2",
    ]
    (report,) = asyncio.run(check_backends(fake_host(), names=["fake"]))
    assert not report.installed
    assert report.version is None
    assert report.error is not None
    assert "pip install fake-cli" in report.error


def test_version_is_probed_once_per_binary_even_across_processes(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = on_path(isolated, monkeypatch)
    cache_file = isolated / "home" / "cache" / "versions.json"
    first = VersionCache(cache_file)
    assert asyncio.run(probe_version(FakeBackend(), str(exe), cache=first)) == "1.4.2"
    assert asyncio.run(probe_version(FakeBackend(), str(exe), cache=first)) == "1.4.2"
    assert version_probes(isolated) == 1
    # A new process starts with an empty memory cache but reads the file.
    second = VersionCache(cache_file)
    assert asyncio.run(probe_version(FakeBackend(), str(exe), cache=second)) == "1.4.2"
    assert version_probes(isolated) == 1


def test_an_upgraded_binary_is_probed_again(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = on_path(isolated, monkeypatch)
    cache = VersionCache(isolated / "versions.json")
    asyncio.run(probe_version(FakeBackend(), str(exe), cache=cache))
    stat = exe.stat()
    os.utime(exe, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    monkeypatch.setenv("FAKE_CLI_VERSION", "fake-cli 1.5.0")
    assert asyncio.run(probe_version(FakeBackend(), str(exe), cache=cache)) == "1.5.0"
    assert version_probes(isolated) == 2


@pytest.mark.parametrize("content", [b"{not json", b'{"format": 1, "versions": [1]}', b""])
def test_a_corrupt_cache_file_is_ignored_and_rewritten(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    exe = on_path(isolated, monkeypatch)
    cache_file = isolated / "versions.json"
    cache_file.write_bytes(content)
    assert (
        asyncio.run(probe_version(FakeBackend(), str(exe), cache=VersionCache(cache_file)))
        == "1.4.2"
    )
    assert (
        asyncio.run(probe_version(FakeBackend(), str(exe), cache=VersionCache(cache_file)))
        == "1.4.2"
    )
    assert version_probes(isolated) == 1


def test_an_unwritable_cache_location_only_costs_a_probe(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = on_path(isolated, monkeypatch)
    blocker = isolated / "file-not-dir"
    blocker.write_text("x")
    cache = VersionCache(blocker / "versions.json")
    assert asyncio.run(probe_version(FakeBackend(), str(exe), cache=cache)) == "1.4.2"
    assert asyncio.run(probe_version(FakeBackend(), str(exe), cache=cache)) == "1.4.2"
    assert version_probes(isolated) == 1  # still remembered in memory


def test_a_cli_without_a_version_reports_an_error(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path(isolated, monkeypatch)
    monkeypatch.setenv("FAKE_CLI_VERSION", "development build")
    report = asyncio.run(check_backend(FakeBackend(), cache=VersionCache(isolated / "v.json")))
    assert report.installed
    assert report.version is None
    assert report.tested is None
    assert report.error == "`fake-cli --version` gave no version"
