"""``clinvk --server https://...`` and ``clinvk --server`` through an HTTP proxy.

The server (with the stub backends) sits behind a TLS front using a throwaway CA; a test proxy
on 127.0.0.1 records what it is asked. What a user notices: the certificate is checked (a CA of
their own is trusted through ``SSL_CERT_FILE``), a certificate that fails is one line, the proxy
in ``HTTPS_PROXY`` / ``HTTP_PROXY`` is used — with its credentials, which are never printed —
unless ``NO_PROXY`` names the server, answers still stream as the agent writes, and Ctrl-C still
stops the agent on the server.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.clis import ClinvkRunner

from remote.conftest import ServerProcess, alive, assert_streams, start_clinvk, wait_until
from remote.middlemen import Certificates, HttpProxy, TlsFront, make_certificates

EnvFactory = Callable[..., dict[str, str]]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def front(certificates: Certificates, stub_server: ServerProcess) -> Iterator[TlsFront]:
    port = urlsplit(stub_server.url).port
    assert port is not None
    with TlsFront(certificates, port) as relay:
        yield relay


@pytest.fixture
def proxy() -> Iterator[HttpProxy]:
    with HttpProxy() as relay:
        yield relay


def direct_env(
    stub_server: ServerProcess, remote_env: EnvFactory, url: str, **extra: str
) -> dict[str, str]:
    """A clinvk environment for ``url`` without the suite's ``NO_PROXY``."""
    env = {**remote_env(stub_server), "CLINVK_SERVER": url, **extra}
    if "NO_PROXY" not in extra:
        env.pop("NO_PROXY")
    return env


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_https_with_the_servers_ca_in_ssl_cert_file(
    front: TlsFront,
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    certificates: Certificates,
    clinvk: ClinvkRunner,
    tmp_path: Path,
) -> None:
    url = f"https://127.0.0.1:{front.port}"
    env = direct_env(stub_server, remote_env, url, SSL_CERT_FILE=str(certificates.ca))
    rc, out, err = clinvk(["-o", "json", "hello"], env, cwd=tmp_path)
    assert rc == 0, err
    assert json.loads(out)["content"] == "You said: hello"
    rc, out, err = clinvk(["sessions", "list", "-o", "json"], env, cwd=tmp_path)
    assert rc == 0, err
    assert json.loads(out)["total"] == 1
    assert_streams(env, tmp_path)


def test_a_certificate_that_fails_is_one_line(
    front: TlsFront,
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    certificates: Certificates,
    clinvk: ClinvkRunner,
    tmp_path: Path,
) -> None:
    other = make_certificates(tmp_path / "other", "other")
    url = f"https://127.0.0.1:{front.port}"
    env = direct_env(stub_server, remote_env, url, SSL_CERT_FILE=str(other.ca))
    rc, out, err = clinvk(["hi"], env, cwd=tmp_path)
    assert (rc, out) == (1, ""), err
    line = one_error_line(err)
    assert f"the certificate of the clinvoker server at {url} is not trusted" in line
    assert "SSL_CERT_FILE" in line
    # the CA is trusted, but the certificate is for 127.0.0.1, not for localhost
    url = f"https://localhost:{front.port}"
    env = direct_env(stub_server, remote_env, url, SSL_CERT_FILE=str(certificates.ca))
    rc, out, err = clinvk(["sessions", "list"], env, cwd=tmp_path)
    assert (rc, out) == (1, ""), err
    line = one_error_line(err)
    assert f"the certificate of the clinvoker server at {url} is not trusted" in line
    assert "not valid for 'localhost'" in line
    assert stub_server.stub_pids() == []


def test_https_to_a_plain_http_server_is_one_line(
    stub_server: ServerProcess, remote_env: EnvFactory, clinvk: ClinvkRunner, tmp_path: Path
) -> None:
    url = stub_server.url.replace("http://", "https://")
    rc, out, err = clinvk(["hi"], direct_env(stub_server, remote_env, url), cwd=tmp_path)
    assert (rc, out) == (1, ""), err
    line = one_error_line(err)
    assert f"the TLS handshake with the clinvoker server at {url} failed" in line
    assert "http://" in line


def test_https_goes_through_the_proxy_in_https_proxy(
    front: TlsFront,
    proxy: HttpProxy,
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    certificates: Certificates,
    clinvk: ClinvkRunner,
    tmp_path: Path,
) -> None:
    env = direct_env(
        stub_server,
        remote_env,
        f"https://127.0.0.1:{front.port}",
        SSL_CERT_FILE=str(certificates.ca),
        HTTPS_PROXY=f"http://alice:s%40cret@127.0.0.1:{proxy.port}",
        HTTP_PROXY=f"http://127.0.0.1:{closed_port()}",  # not for https:// servers
    )
    rc, out, err = clinvk(["-o", "json", "-v", "hello"], env, cwd=tmp_path)
    assert rc == 0, err
    assert json.loads(out)["content"] == "You said: hello"
    assert "s@cret" not in err
    assert "s%40cret" not in err
    assert_streams(env, tmp_path)
    assert proxy.requests
    assert set(proxy.requests) == {f"CONNECT 127.0.0.1:{front.port}"}
    basic = "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert set(proxy.credentials) == {basic}


def test_http_goes_through_the_proxy_in_http_proxy(
    proxy: HttpProxy,
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    clinvk: ClinvkRunner,
    tmp_path: Path,
) -> None:
    env = direct_env(stub_server, remote_env, stub_server.url, http_proxy=f"127.0.0.1:{proxy.port}")
    rc, out, err = clinvk(["-o", "json", "hello"], env, cwd=tmp_path)
    assert rc == 0, err
    assert json.loads(out)["content"] == "You said: hello"
    assert_streams(env, tmp_path)
    rc, _, err = clinvk(["sessions", "list"], env, cwd=tmp_path)
    assert rc == 0, err
    assert f"POST {stub_server.url}/api/v1/prompt" in proxy.requests
    assert f"GET {stub_server.url}/api/v1/sessions" in proxy.requests


def test_no_proxy_goes_direct(
    front: TlsFront,
    proxy: HttpProxy,
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    certificates: Certificates,
    clinvk: ClinvkRunner,
    tmp_path: Path,
) -> None:
    via = f"http://127.0.0.1:{proxy.port}"
    for url in (stub_server.url, f"https://127.0.0.1:{front.port}"):
        env = direct_env(
            stub_server,
            remote_env,
            url,
            SSL_CERT_FILE=str(certificates.ca),
            HTTPS_PROXY=via,
            HTTP_PROXY=via,
            NO_PROXY="example.org, 127.0.0.1",
        )
        rc, _, err = clinvk(["-o", "json", "hello"], env, cwd=tmp_path)
        assert rc == 0, err
    assert proxy.requests == []


def test_a_proxy_that_fails_is_one_line_without_its_password(
    front: TlsFront,
    proxy: HttpProxy,
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    certificates: Certificates,
    clinvk: ClinvkRunner,
    tmp_path: Path,
) -> None:
    down = closed_port()
    env = direct_env(
        stub_server, remote_env, stub_server.url, HTTP_PROXY=f"http://bob:hunter2@127.0.0.1:{down}"
    )
    rc, out, err = clinvk(["hi"], env, cwd=tmp_path)
    assert (rc, out) == (1, ""), err
    line = one_error_line(err)
    assert f"cannot connect to the proxy http://127.0.0.1:{down} (from HTTP_PROXY)" in line
    assert "NO_PROXY" in line
    assert "hunter2" not in err
    # the proxy is there, the server behind it is not
    url = f"https://127.0.0.1:{closed_port()}"
    env = direct_env(
        stub_server,
        remote_env,
        url,
        SSL_CERT_FILE=str(certificates.ca),
        HTTPS_PROXY=f"http://bob:hunter2@127.0.0.1:{proxy.port}",
    )
    rc, out, err = clinvk(["hi"], env, cwd=tmp_path)
    assert (rc, out) == (1, ""), err
    line = one_error_line(err)
    assert f"the proxy http://127.0.0.1:{proxy.port} (from HTTPS_PROXY) did not open" in line
    assert f"the clinvoker server at {url}: 502 Bad Gateway" in line
    assert "hunter2" not in err
    env["HTTPS_PROXY"] = "https://bob:hunter2@proxy.example:3128"
    rc, out, err = clinvk(["hi"], env, cwd=tmp_path)
    assert (rc, out) == (2, ""), err
    line = one_error_line(err)
    assert "HTTPS_PROXY names a https:// proxy clinvk cannot use" in line
    assert "hunter2" not in err
    assert stub_server.stub_pids() == []


def test_ctrl_c_through_the_proxy_and_tls_stops_the_agent(
    front: TlsFront,
    proxy: HttpProxy,
    stub_server: ServerProcess,
    remote_env: EnvFactory,
    certificates: Certificates,
    tmp_path: Path,
) -> None:
    env = direct_env(
        stub_server,
        remote_env,
        f"https://127.0.0.1:{front.port}",
        SSL_CERT_FILE=str(certificates.ca),
        HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}",
    )
    proc = start_clinvk(["-o", "text", "-m", "hang", "x"], env, tmp_path)
    assert proc.stdout is not None
    assert os.read(proc.stdout.fileno(), 100) == b"thinking"
    [pid] = stub_server.stub_pids()
    assert alive(pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode().strip() == "Interrupted."
    wait_until(lambda: not alive(pid), what="the server to stop the stub")
    assert proxy.requests == [f"CONNECT 127.0.0.1:{front.port}"]
