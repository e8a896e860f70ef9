"""The fake model API speaks each provider's wire format well enough for the official clients.

The Anthropic and OpenAI Python SDKs parse its streams and errors; Gemini's format is checked
against the raw JSON. Modes, tags and the request log are what the other suites build on.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.fake_model_api import FakeModelAPI

anthropic = pytest.importorskip("anthropic", reason="the sdk dependency group is not installed")
openai = pytest.importorskip("openai", reason="the sdk dependency group is not installed")

USER = [{"role": "user", "content": "hi"}]
CLAUDE_MODEL = "claude-fake-1"  # the SDK warns about deprecated real model names
SUPPORT = Path(__file__).resolve().parent.parent / "support"


def claude_client(api: FakeModelAPI, mode: str = "ok") -> Any:
    return anthropic.Anthropic(base_url=api.base_url(mode), api_key="sk-test", max_retries=0)


def openai_client(api: FakeModelAPI, mode: str = "ok") -> Any:
    return openai.OpenAI(base_url=api.base_url(mode) + "/v1", api_key="sk-test", max_retries=0)


def sse_data(body: str) -> list[str]:
    return [line[6:] for line in body.splitlines() if line.startswith("data: ")]


def test_anthropic_stream_delivers_four_deltas_and_usage(fake_api: FakeModelAPI) -> None:
    with claude_client(fake_api).messages.stream(
        model=CLAUDE_MODEL, max_tokens=100, messages=USER
    ) as stream:
        deltas = list(stream.text_stream)
        message = stream.get_final_message()

    assert deltas == ["Hello", " from", " fake", " model"]
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (11, 7)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (3, 2)
    [call] = fake_api.model_calls()
    assert (call.provider, call.model, call.stream, call.roles) == (
        "anthropic",
        CLAUDE_MODEL,
        True,
        ["user"],
    )
    credential = call.headers.get("x-api-key") or call.headers["authorization"]
    assert credential.endswith("sk-t***")
    assert "sk-test" not in json.dumps(call.to_dict())


def test_anthropic_non_streaming_and_count_tokens(fake_api: FakeModelAPI) -> None:
    client = claude_client(fake_api)
    message = client.messages.create(model=CLAUDE_MODEL, max_tokens=10, messages=USER)
    counted = client.messages.count_tokens(model=CLAUDE_MODEL, messages=USER)

    assert message.content[0].text == "Hello from fake model"
    assert counted.input_tokens == 11
    assert [r.endpoint for r in fake_api.log()] == ["messages", "count_tokens"]


@pytest.mark.parametrize(
    ("status", "error_type", "retry_after"),
    [
        (401, "authentication_error", None),
        (429, "rate_limit_error", "1"),
        (529, "overloaded_error", "1"),
    ],
)
def test_anthropic_errors_are_provider_shaped(
    fake_api: FakeModelAPI, status: int, error_type: str, retry_after: str | None
) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude_client(fake_api, str(status)).messages.create(
            model=CLAUDE_MODEL, max_tokens=10, messages=USER
        )

    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == error_type
    assert caught.value.response.headers.get("retry-after") == retry_after


def test_openai_responses_stream_reports_cached_and_cache_write_tokens(
    fake_api: FakeModelAPI,
) -> None:
    stream = openai_client(fake_api).responses.create(model="gpt-5.5", input="hi", stream=True)
    events = list(stream)

    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["Hello", " from", " fake", " model"]
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    usage = events[-1].response.usage
    assert (usage.input_tokens, usage.output_tokens) == (11, 7)
    assert usage.input_tokens_details.cached_tokens == 3
    assert usage.input_tokens_details.cache_write_tokens == 2


def test_openai_chat_stream_with_usage_and_model_list(fake_api: FakeModelAPI) -> None:
    client = openai_client(fake_api)
    chunks = list(
        client.chat.completions.create(
            model="gpt-5.5", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    assert text == "Hello from fake model"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 11
    assert "gpt-5.5" in [m.id for m in client.models.list()]


def test_openai_unknown_model_gets_model_not_found(fake_api: FakeModelAPI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(fake_api).responses.create(model="gpt-nonexistent-9", input="hi")

    assert caught.value.code == "model_not_found"
    assert "gpt-nonexistent-9" in caught.value.message


def gemini(
    api: FakeModelAPI, model: str, call: str, body: dict[str, Any], mode: str = "ok"
) -> httpx.Response:
    url = f"{api.base_url(mode)}/v1beta/models/{model}:{call}"
    return httpx.post(url, json=body, headers={"x-goog-api-key": "sk-test"})


def test_gemini_sse_stream_ends_with_finish_reason_and_usage(fake_api: FakeModelAPI) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    response = gemini(fake_api, "gemini-2.5-pro", "streamGenerateContent?alt=sse", body)
    chunks = [json.loads(d) for d in sse_data(response.text)]

    assert response.headers["content-type"] == "text/event-stream"
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks] == [
        "Hello",
        " from",
        " fake",
        " model",
    ]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["promptTokenCount"] == 11
    assert chunks[-1]["usageMetadata"]["cachedContentTokenCount"] == 3
    assert fake_api.log()[0].headers["x-goog-api-key"] == "sk-t***"


def test_gemini_router_call_gets_json_matching_its_schema(fake_api: FakeModelAPI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "complexity_reasoning": {"type": "string"},
            "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "required": ["complexity_reasoning", "complexity_score"],
    }
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema},
    }
    response = gemini(fake_api, "gemini-3.5-flash-lite", "generateContent", body)
    answer = json.loads(response.json()["candidates"][0]["content"]["parts"][0]["text"])

    assert answer["complexity_reasoning"] == "fake"
    assert 1 <= answer["complexity_score"] <= 100


def test_gemini_unknown_model_and_count_tokens(fake_api: FakeModelAPI) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    missing = gemini(fake_api, "gemini-nonexistent-9", "generateContent", body)
    counted = gemini(fake_api, "gemini-2.5-pro", "countTokens", body)

    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"
    assert counted.json()["totalTokens"] == 11


def test_fail_n_times_then_ok_counts_per_tag(fake_api: FakeModelAPI) -> None:
    def call(tag: str) -> int:
        url = fake_api.base_url("500x2", tag=tag) + "/v1/messages"
        return httpx.post(url, json={"model": "m", "messages": USER}).status_code

    assert [call("a"), call("a"), call("b"), call("a")] == [500, 500, 500, 200]
    assert [r.status for r in fake_api.log(tag="b")] == [500]


def anthropic_raw(api: FakeModelAPI, mode: str, messages: list[Any] = USER) -> httpx.Response:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True, "messages": messages}
    return httpx.post(api.base_url(mode) + "/v1/messages", json=body, timeout=10)


def test_broken_streams(fake_api: FakeModelAPI) -> None:
    truncated = [json.loads(d) for d in sse_data(anthropic_raw(fake_api, "truncated").text)]
    malformed = sse_data(anthropic_raw(fake_api, "malformed").text)
    empty = anthropic_raw(fake_api, "empty")

    texts = [e["delta"]["text"] for e in truncated if e["type"] == "content_block_delta"]
    assert texts == ["Hello", " from"]
    assert truncated[-1]["type"] != "message_stop"
    assert malformed == ["{this is not json"]
    assert (empty.status_code, empty.text) == (200, "")


def test_slow_mode_waits_before_answering(fake_api: FakeModelAPI) -> None:
    started = time.monotonic()
    response = anthropic_raw(fake_api, "slow0.3")

    assert time.monotonic() - started >= 0.3
    assert "message_stop" in response.text


def test_a_held_back_request_is_logged_on_arrival() -> None:
    with FakeModelAPI() as api, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(anthropic_raw, api, "slow30")
        [arrived] = api.wait_for(lambda log: len(log) == 1, timeout=10)
        assert (arrived.status, arrived.last_user_text) == (0, "hi")
        api.stop()  # drops the held request instead of waiting 30 s
        with pytest.raises(httpx.HTTPError):
            pending.result(timeout=10)


def test_tool_mode_calls_a_tool_then_answers_its_result(fake_api: FakeModelAPI) -> None:
    first = [json.loads(d) for d in sse_data(anthropic_raw(fake_api, "tool").text)]
    tool_use = first[1]["content_block"]
    history = [
        *USER,
        {"role": "assistant", "content": [tool_use]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "tool-ran"}
            ],
        },
    ]
    second = anthropic_raw(fake_api, "tool", history).text

    assert tool_use["name"] == "Bash"
    partial = json.loads(first[2]["delta"]["partial_json"])
    assert partial["command"] == "echo tool-ran"
    assert '"stop_reason":"tool_use"' in "".join(sse_data(anthropic_raw(fake_api, "tool").text))
    assert "Hello" in second
    assert fake_api.model_calls()[1].roles == ["user", "assistant", "user"]


def test_echo_quotes_the_prompt_without_injected_reminders(fake_api: FakeModelAPI) -> None:
    content = [
        {"type": "text", "text": "<system-reminder>\ncontext\n</system-reminder>"},
        {"type": "text", "text": "what is 2+2?"},
    ]
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": content}]}
    reply = httpx.post(fake_api.base_url("echo") + "/v1/messages", json=body).json()

    assert reply["content"][0]["text"] == "Echo: what is 2+2?"
    assert fake_api.log()[0].last_user_text == "what is 2+2?"


def test_admin_endpoints_control_mode_and_log(fake_api: FakeModelAPI) -> None:
    admin = fake_api.url + "/__admin"
    assert httpx.post(admin + "/mode", json={"mode": "401"}).status_code == 200
    unprefixed = httpx.post(fake_api.url + "/v1/messages", json={"model": "m", "messages": USER})
    bad_mode = httpx.post(admin + "/mode", json={"mode": "sometimes"})
    logged = httpx.get(admin + "/log", params={"bodies": "1"}).json()["requests"]
    httpx.post(admin + "/reset")

    assert unprefixed.status_code == 401
    assert bad_mode.status_code == 400
    assert "unknown fake mode 'sometimes'" in bad_mode.json()["error"]
    assert logged[0]["body"]["messages"] == USER
    assert logged[0]["mode"] == "401"
    assert fake_api.log() == []


def test_unknown_route_is_answered_404_and_logged(fake_api: FakeModelAPI) -> None:
    response = httpx.post(fake_api.base_url() + "/v2/whatever", json={})

    assert response.status_code == 404
    assert "no route for POST /v2/whatever" in response.json()["error"]["message"]
    assert fake_api.log()[0].provider == "unknown"


def test_runs_as_a_script_with_a_port_file(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    argv = [sys.executable, str(SUPPORT / "fake_model_api.py"), "--port-file", str(port_file)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()  # printed after the port file is written
            port = int(port_file.read_text())
            body = {"model": "m", "messages": USER}
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=body)
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)

    assert banner.strip() == f"fake model API listening on http://127.0.0.1:{port}"
    assert reply.json()["content"][0]["text"] == "Hello from fake model"
    assert rc == 0
