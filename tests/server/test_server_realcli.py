"""``clinvk serve`` with the REAL claude / codex / gemini CLIs behind it, driven by the SDKs.

The server runs as a subprocess in an environment where every CLI talks to the fake model API
(``cli_env("all")``); the official OpenAI and Anthropic SDKs (strict mode) and LangChain talk to
the server. What the clients see must be the fake model's answer and usage, whichever backend
the model id routes to.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from support.clis import TEST_MODELS, CliEnvFactory, clinvk_executable, start_with_ready_file

pytestmark = [pytest.mark.realcli, pytest.mark.sdk]

BACKENDS = ["claude", "codex", "gemini"]
HELLO = "Hello from fake model"


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url


@pytest.fixture
def clinvk_server(cli_env: CliEnvFactory, tmp_path: Path) -> Iterator[Server]:
    """``clinvk serve`` on a free port, every CLI pointed at the fake model API."""
    env = dict(cli_env("all"))
    workdir = cli_env("all").workdir
    for name, model in TEST_MODELS.items():
        env[f"CLINVK_{name.upper()}_MODEL"] = model
    proc, url = start_with_ready_file(
        [str(clinvk_executable()), "serve", "--port", "0", "--ready-file"],
        tmp_path / "ready",
        env=env,
        cwd=workdir,
    )
    yield Server(proc, url)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0


@pytest.fixture
def oai(clinvk_server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=clinvk_server.url + "/openai/v1",
        api_key="unused",
        max_retries=0,
        timeout=120,
        _strict_response_validation=True,
    ) as client:
        yield client


@pytest.fixture
def ant(clinvk_server: Server) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=clinvk_server.url + "/anthropic",
        api_key="unused",
        max_retries=0,
        timeout=120,
        _strict_response_validation=True,
    ) as client:
        yield client


@pytest.fixture(autouse=True)
def _no_sdk_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "sdk-home"))
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "ANTHROPIC_")):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_openai_chat_json_and_stream(oai: openai.OpenAI, backend: str) -> None:
    messages = [{"role": "user", "content": "say hello"}]
    completion = oai.chat.completions.create(model=backend, messages=messages)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == HELLO
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 7
    with oai.chat.completions.stream(model=backend, messages=messages) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert final.choices[0].message.content == HELLO
    assert final.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("backend", BACKENDS)
def test_anthropic_messages_json_and_stream(ant: anthropic.Anthropic, backend: str) -> None:
    messages = [{"role": "user", "content": "say hello"}]
    message = ant.messages.create(model=backend, max_tokens=100, messages=messages)  # type: ignore[arg-type]
    assert message.content[0].text == HELLO  # type: ignore[union-attr]
    assert message.usage.output_tokens == 7
    with ant.messages.stream(model=backend, max_tokens=100, messages=messages) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.content[0].text == HELLO  # type: ignore[union-attr]


def test_openai_responses_and_models(oai: openai.OpenAI) -> None:
    ids = [m.id for m in oai.models.list()]
    assert {"claude", "codex", "gemini"} <= set(ids)
    response = oai.responses.create(model="codex", input="say hello")
    assert response.output_text == HELLO
    events = list(oai.responses.create(model="claude", input="say hello", stream=True))
    assert events[-1].type == "response.completed"


def test_langchain_over_the_server(clinvk_server: Server) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="gemini", base_url=clinvk_server.url + "/openai/v1", api_key="unused", max_retries=0
    )
    assert llm.invoke("say hello").content == HELLO


def test_native_prompt_then_resume(clinvk_server: Server) -> None:
    with httpx.Client(base_url=clinvk_server.url, timeout=120) as c:
        first = c.post("/api/v1/prompt", json={"backend": "claude", "prompt": "say hello"}).json()
        assert first["output"] == HELLO
        sid = first["session_id"]
        second = c.post(f"/api/v1/sessions/{sid}/resume", json={"prompt": "again"}).json()
        session = c.get(f"/api/v1/sessions/{sid}").json()
    assert second["exit_code"] == 0
    assert second["session_id"] == sid
    assert session["turn_count"] == 2
