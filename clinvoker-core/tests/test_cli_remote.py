"""``clinvk --server`` parts that need no server: the URL, the proxy, error answers, bodies.

The client against a real server is tested in the repository's ``tests/remote`` (the server is a
separate package and is not installed with the core alone).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from clinvoker.cli.app import cli
from clinvoker.cli.remote.errors import ServerError, error_for_code, error_for_response
from clinvoker.cli.remote.http import Endpoint
from clinvoker.cli.remote.orchestrate import chain_body, parallel_body
from clinvoker.cli.remote.proxy import proxy_for
from clinvoker.errors import (
    AmbiguousSession,
    AuthError,
    BackendOverloaded,
    BackendUnavailable,
    Forbidden,
    RateLimited,
    RunTimeout,
    SessionNotFound,
    UnknownBackend,
    UsageError,
    ValidationError,
)
from clinvoker.orchestrate import ChainSpec, ParallelSpec, Step, Task

URL = "http://127.0.0.1:8080"


def answer(code: str, message: str = "what went wrong") -> bytes:
    return f'{{"error": {{"code": "{code}", "message": "{message}", "request_id": "r1"}}}}'.encode()


@pytest.mark.parametrize(
    ("given", "url", "port", "prefix"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", 8080, ""),
        ("127.0.0.1:9000/", "http://127.0.0.1:9000", 9000, ""),
        ("https://box.example/clinvk/", "https://box.example/clinvk", 443, "/clinvk"),
        (" http://[::1]:81 ", "http://[::1]:81", 81, ""),
    ],
)
def test_server_urls(given: str, url: str, port: int, prefix: str) -> None:
    endpoint = Endpoint(given)
    assert (endpoint.url, endpoint.port, endpoint.prefix) == (url, port, prefix)


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("ftp://host", "must be an http:// or https:// URL"),
        ("http://user:pw@host", "must not contain a user or password"),
        ("http://host/?x=1", "must not have a query"),
        ("http://host:99999", "invalid port"),
    ],
)
def test_bad_server_urls_are_usage_errors(given: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        Endpoint(given)


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without any ``*_proxy`` variable of the machine running the tests."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    ("server", "env", "proxy"),
    [
        ("https://box.example", {}, None),
        ("https://box.example", {"HTTPS_PROXY": "http://p.example:3128"}, "http://p.example:3128"),
        ("http://box.example", {"HTTPS_PROXY": "http://p.example:3128"}, None),
        ("http://box.example:8080", {"http_proxy": "p.example"}, "http://p.example:80"),
        ("https://box.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ("https://box.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "a.org, .example"}, None),
        ("https://box.example", {"HTTPS_PROXY": "http://p:1", "no_proxy": "example"}, None),
        (
            "https://box.example",
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ox.example"},
            "http://p:1",
        ),
        ("http://box.example:81", {"HTTP_PROXY": "http://p:1", "NO_PROXY": "box.example:81"}, None),
        (
            "http://box.example",
            {"HTTP_PROXY": "http://p:1", "NO_PROXY": "box.example:81"},
            "http://p:1",
        ),
    ],
)
def test_the_proxy_comes_from_the_environment(
    proxy_env: pytest.MonkeyPatch, server: str, env: dict[str, str], proxy: str | None
) -> None:
    for name, value in env.items():
        proxy_env.setenv(name, value)
    found = proxy_for(Endpoint(server))
    assert (found.url if found is not None else None) == proxy


def test_proxy_credentials_become_a_header_and_stay_out_of_messages(
    proxy_env: pytest.MonkeyPatch,
) -> None:
    proxy_env.setenv("HTTPS_PROXY", "http://alice:s%40cret@p.example:3128")
    found = proxy_for(Endpoint("https://box.example"))
    assert found is not None
    assert found.url == "http://p.example:3128"
    assert found.headers == {"Proxy-Authorization": "Basic YWxpY2U6c0BjcmV0"}  # alice:s@cret


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("https://u:pw@p.example:3128", "HTTPS_PROXY names a https:// proxy clinvk cannot use"),
        ("socks5://p.example:1080", "HTTPS_PROXY names a socks5:// proxy clinvk cannot use"),
        ("http://u:pw@p.example:99999", "HTTPS_PROXY is not a valid proxy URL"),
    ],
)
def test_a_proxy_clinvk_cannot_use_is_a_usage_error(
    proxy_env: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    proxy_env.setenv("HTTPS_PROXY", value)
    with pytest.raises(UsageError, match=complaint) as caught:
        proxy_for(Endpoint("https://box.example"))
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "code", "cls", "exit_code"),
    [
        (404, "session_not_found", SessionNotFound, 5),
        (409, "ambiguous_session", AmbiguousSession, 5),
        (404, "unknown_backend", UnknownBackend, 2),
        (503, "backend_unavailable", BackendUnavailable, 4),
        (503, "overloaded", BackendOverloaded, 1),
        (504, "timeout", RunTimeout, 124),
        (422, "validation_error", ValidationError, 2),
        (400, "invalid_request", UsageError, 2),
        (403, "forbidden", Forbidden, 1),
        (504, "", RunTimeout, 124),
        (422, "something_new", ValidationError, 2),
    ],
)
def test_error_answers_become_the_local_classes(
    status: int, code: str, cls: type[Exception], exit_code: int
) -> None:
    error = error_for_response(status, "Reason", answer(code), url=URL)
    assert type(error) is cls
    assert error.exit_code == exit_code
    assert "what went wrong" in str(error)


def test_a_refused_key_says_which_server_and_what_to_do() -> None:
    error = error_for_response(
        401, "Unauthorized", answer("unauthorized", "invalid API key"), url=URL
    )
    assert type(error) is AuthError
    assert str(error).startswith(f"the server at {URL} refused the request: invalid API key")
    assert "CLINVK_API_KEY" in str(error)


def test_rate_limits_keep_the_retry_delay() -> None:
    error = error_for_response(429, "Too Many", answer("rate_limited"), url=URL, retry_after="7")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7


def test_an_answer_that_is_not_from_clinvoker() -> None:
    error = error_for_response(404, "Not Found", b"<html>nope</html>", url=URL)
    assert isinstance(error, ServerError)
    assert "not a clinvoker server's answer" in str(error)
    unknown_route = error_for_response(404, "Not Found", answer("not_found"), url=URL)
    assert "has no such API" in str(unknown_route)


def test_error_lines_in_streams_use_the_same_classes() -> None:
    assert type(error_for_code("session_not_found", "x")) is SessionNotFound
    assert type(error_for_code("invalid_request", "x")) is UsageError


def test_task_fields_the_server_has_no_field_for_are_refused() -> None:
    for task, field in (
        (Task(prompt="p", timeout=3), "timeout"),
        (Task(prompt="p", ephemeral=False), "ephemeral: false"),
        (Task(prompt="p", metadata={"a": "b"}), "metadata"),
        (Task(prompt="p", dry_run=True), "dry_run"),
    ):
        spec = ParallelSpec(tasks=[Task(prompt="fine"), task])
        with pytest.raises(UsageError, match=f"task 2: {field} is not available with --server"):
            parallel_body(spec, max_parallel=2, fail_fast=False, dry_run=False, workdir=None)
    with pytest.raises(UsageError, match="step 1: timeout"):
        chain_body(
            ChainSpec(steps=[Step(prompt="p", timeout=1)]), model=None, workdir=None, dry_run=False
        )


def test_bodies_carry_the_flags_and_absolute_workdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = ParallelSpec(tasks=[Task(prompt="a", workdir="sub"), Task(prompt="b", dry_run=True)])
    body = parallel_body(spec, max_parallel=3, fail_fast=True, dry_run=True, workdir="/srv")
    assert body["tasks"] == [
        {"prompt": "a", "workdir": str(tmp_path / "sub")},
        {"prompt": "b", "workdir": "/srv"},
    ]
    assert (body["max_parallel"], body["fail_fast"], body["dry_run"]) == (3, True, True)
    chain = ChainSpec(steps=[Step(prompt="a"), Step(prompt="b")], pass_working_dir=True)
    steps = chain_body(chain, model="fast", workdir="/srv", dry_run=False)["steps"]
    assert steps == [
        {"prompt": "a", "model": "fast", "workdir": "/srv"},
        {"prompt": "b", "model": "fast"},  # inherits the previous step's directory
    ]


def test_a_server_that_is_not_running_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    runner = CliRunner()
    env = {"CLINVK_HOME": str(tmp_path), "CLINVK_SERVER": url, "CLINVK_API_KEY": "sk-secret"}
    result = runner.invoke(cli, ["-o", "text", "hi"], env=env)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: cannot connect to the clinvoker server at {url}: connection refused. "
        "Start it with `clinvk serve`, or point --server / CLINVK_SERVER at a running one"
    ]
    assert "sk-secret" not in result.output
