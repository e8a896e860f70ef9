"""API keys: every route but ``/health`` needs one, however the request is spelled, and checking
a key takes the same time whether it is right, nearly right or wrong.

Requests are written byte for byte (:mod:`reliability.support.rawhttp`) so that percent-encoded,
double-slash and dot-segment paths reach the server exactly as an attacker would send them.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from clinvoker.errors import ClinvokerError

from reliability.support.rawhttp import raw_request
from reliability.support.server import API_KEY, ServerProcess

SESSION = "0123456789abcdef0123456789abcdef"
OTHER_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _routes() -> list[tuple[str, str]]:
    """``(method, path)`` of every route the application serves, parameters filled in."""
    app = importlib.import_module("clinvoker_server.app")
    out = []
    for route in app.ROUTES:
        path = route.path.replace("{id}", SESSION).replace("{model:path}", "claude")
        for method in sorted(set(route.methods or ()) | {"HEAD", "OPTIONS"}):
            out.append((method, path))
    return sorted(set(out))


ROUTES = _routes()


def spellings(path: str) -> Iterator[str]:
    """Ways to write ``path`` that a server must treat as ``path``."""
    yield path
    yield "/" + path  # //api/v1/...
    yield path.replace("/v1/", "//v1/", 1)
    yield path.replace("/v1/", "/./v1/", 1)
    yield "/health/.." + path
    yield "/health/%2e%2e" + path
    yield path[:-1] + f"%{ord(path[-1]):02X}"  # last character percent-encoded
    yield path + "/"


def is_open(method: str, path: str) -> bool:
    return path == "/health" and method in ("GET", "HEAD")


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_but_health_needs_a_key(
    fault_server: ServerProcess, method: str, path: str
) -> None:
    for target in spellings(path):
        for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"x-api-key": API_KEY + "x"}):
            answer = raw_request(fault_server.url, method, target, headers)
            if is_open(method, path):  # every spelling of /health is /health
                assert answer.status == 200, f"{method} {target}: {answer.status}"
                continue
            assert answer.status == 401, f"{method} {target} {headers}: {answer.status}"
            if method != "HEAD":
                assert b"API key" in answer.body, answer.body
    assert fault_server.world.calls() == []  # nothing ran


@pytest.mark.parametrize(
    "target",
    ["/nope", "/HEALTH", "/health;/api/v1/sessions", "/health%00", "/api/v1", "/%2e%2e/etc/passwd"],
)
def test_unknown_paths_need_a_key_too(fault_server: ServerProcess, target: str) -> None:
    assert raw_request(fault_server.url, "GET", target).status == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": f"Token {API_KEY}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {API_KEY[:-1]}"},
        {"Authorization": f"Bearer {API_KEY}{API_KEY}"},
        {"x-api-key": ""},
        {"Cookie": f"api_key={API_KEY}"},
    ],
    ids=["basic", "token", "empty", "prefix", "doubled", "empty-header", "cookie"],
)
def test_only_the_documented_headers_carry_a_key(
    fault_server: ServerProcess, headers: dict[str, str]
) -> None:
    assert raw_request(fault_server.url, "GET", "/openai/v1/models", headers).status == 401
    assert (
        raw_request(fault_server.url, "GET", f"/openai/v1/models?api_key={API_KEY}").status == 401
    )


def test_the_documented_headers_work(fault_server: ServerProcess) -> None:
    for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"x-api-key": API_KEY}):
        assert raw_request(fault_server.url, "GET", "/openai/v1/models", headers).status == 200


def test_a_cors_preflight_needs_no_key_but_runs_nothing(fault_server: ServerProcess) -> None:
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    answer = raw_request(fault_server.url, "OPTIONS", "/openai/v1/chat/completions", preflight)
    assert answer.status == 204
    assert answer.body == b""
    plain = raw_request(
        fault_server.url, "OPTIONS", "/openai/v1/chat/completions", {"Origin": preflight["Origin"]}
    )
    assert plain.status == 401  # OPTIONS without Access-Control-Request-Method is no preflight
    assert fault_server.world.calls() == []


# -- timing -----------------------------------------------------------------------------------

ROUNDS = 300


def near_misses(key: str) -> dict[str, str]:
    """Keys that a byte-by-byte comparison would reject at different speeds."""
    return {
        "right": key,
        "wrong_last_char": key[:-1] + ("0" if key[-1] != "0" else "1"),
        "wrong_first_char": ("0" if key[0] != "0" else "1") + key[1:],
        "short": key[:4],
        "long": key * 8,
    }


def test_a_wrong_key_takes_as_long_as_the_right_one(fault_server: ServerProcess) -> None:
    """Medians over interleaved requests (robust to CI noise) agree within a generous margin.

    The target is an unknown path, so the right key and the wrong ones do the same work after
    the key check (a 404 or a 401, both one small JSON error).
    """
    keys = near_misses(API_KEY)
    samples: dict[str, list[float]] = {name: [] for name in keys}
    rng = random.Random(7)
    with fault_server.client(key=None) as client:
        for _ in range(ROUNDS):
            order = list(keys)
            rng.shuffle(order)
            for name in order:
                began = time.perf_counter()
                status = client.get("/api/v1/nope", headers={"x-api-key": keys[name]}).status_code
                samples[name].append(time.perf_counter() - began)
                assert status == (404 if name == "right" else 401)
    medians = {name: statistics.median(times) for name, times in samples.items()}
    wrong = [m for name, m in medians.items() if name != "right"]
    # how much of the key matched must not show: the wrong keys agree closely...
    assert max(wrong) - min(wrong) < max(0.25 * min(wrong), 0.0003), medians
    # ...and the right key costs no more than routing an authenticated request
    fastest, slowest = min(medians.values()), max(medians.values())
    assert slowest - fastest < max(0.5 * fastest, 0.0005), medians


def test_the_key_check_is_constant_time_by_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every configured key is compared, always, as a fixed-size digest with
    :func:`hmac.compare_digest` — whichever key (or none) matches, and whatever its length."""
    auth = importlib.import_module("clinvoker_server.auth")
    secrets = [f"sk-key-number-{n}-{'x' * n}" for n in range(5)]
    ring = auth.KeyRing(
        [(s, auth.Principal(name=f"k{n}", authenticated=True)) for n, s in enumerate(secrets)]
    )
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    presented = [*secrets, secrets[2][:-1] + "y", "x", "sk-" + "z" * 10_000]
    size = hashlib.sha256().digest_size
    for n, key in enumerate(presented):
        calls.clear()
        if n < len(secrets):
            assert ring.authenticate(key).name == f"k{n}"
        else:
            with pytest.raises(ClinvokerError, match="invalid API key"):
                ring.authenticate(key)
        assert calls == [(size, size)] * len(secrets), f"{key[:20]!r}: {calls}"
