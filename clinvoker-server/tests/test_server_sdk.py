"""The official OpenAI and Anthropic SDKs (strict mode) and LangChain against a real server."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
import server_specs as specs

pytestmark = pytest.mark.sdk


@pytest.fixture(autouse=True)
def _clean_sdk_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "sdk-home"))
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def oai(server):
    with openai.OpenAI(
        base_url=server.url + "/openai/v1",
        api_key="unused",
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


@pytest.fixture
def ant(server):
    with anthropic.Anthropic(
        base_url=server.url + "/anthropic",
        api_key="unused",
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


HI = [{"role": "user", "content": "hi there"}]


def test_chat_completion(oai):
    completion = oai.chat.completions.create(model="stub", messages=HI)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "You said: hi there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 7
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 7


def test_chat_completion_body_matches_the_spec(server):
    with server.client() as c:
        r = c.post(
            "/openai/v1/chat/completions",
            json={"model": "stub/echo", "messages": HI, "temperature": 0.2, "seed": 4, "n": 1},
        )
    assert r.status_code == 200
    specs.openai(r.json(), "CreateChatCompletionResponse")


def test_system_and_developer_messages_become_the_system_prompt(oai):
    completion = oai.chat.completions.create(
        model="stub",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "use tests"}]},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ],
    )
    assert completion.choices[0].message.content == "You said: hi [system: be brief\n\nuse tests]"


def test_a_conversation_is_flattened_into_one_prompt(oai):
    completion = oai.chat.completions.create(
        model="stub",
        messages=[
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "times 3?"},
        ],
    )
    text = completion.choices[0].message.content
    assert text.startswith("You said: Conversation so far:")
    assert "[assistant]\n4" in text
    assert text.endswith("Reply to this message:\ntimes 3?")


def test_chat_stream_with_usage(oai):
    stream = oai.chat.completions.create(
        model="stub", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: hi there"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 7
    assert len({c.id for c in chunks}) == 1


def test_chat_stream_helper(oai):
    with oai.chat.completions.stream(model="stub", messages=HI) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == "You said: hi there"
    assert final.choices[0].message.content == "You said: hi there"
    assert final.choices[0].finish_reason == "stop"


def test_responses_create_and_stream(oai):
    response = oai.responses.create(model="stub", input="hi", instructions="be nice")
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == "You said: hi [system: be nice]"
    assert response.usage is not None
    assert response.usage.output_tokens == 7
    events = list(oai.responses.create(model="stub", input="hi", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "You said: hi"


def test_responses_stream_helper(oai):
    with oai.responses.stream(model="stub", input=[{"role": "user", "content": "yo"}]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "You said: yo"


def test_models_list_is_what_routing_accepts(oai, ant):
    ids = [m.id for m in oai.models.list()]
    assert ids[:2] == ["stub", "stub/echo"]
    assert "stub2" in ids
    assert "stub/fast" in ids
    assert oai.models.retrieve("stub/slow").owned_by == "stub"
    assert [m.id for m in ant.models.list()] == ids
    for model_id in ids[:3]:
        oai.chat.completions.create(model=model_id, messages=HI)


def test_models_bodies_match_the_specs(server):
    with server.client() as c:
        openai_list = c.get("/openai/v1/models").json()
        anthropic_list = c.get("/anthropic/v1/models").json()
    specs.openai(openai_list, "ListModelsResponse")
    assert anthropic_list["has_more"] is False
    assert anthropic_list["first_id"] == "stub"
    for model in anthropic_list["data"]:
        specs.anthropic(model, "ModelInfo")


def test_anthropic_message(ant):
    message = ant.messages.create(
        model="stub",
        max_tokens=64,
        system=[{"type": "text", "text": "be terse"}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].text == "You said: hello [system: be terse]"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 7


def test_anthropic_stream_helper(ant):
    with ant.messages.stream(
        model="stub", max_tokens=64, messages=[{"role": "user", "content": "hey"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "You said: hey"
    assert final.content[0].text == "You said: hey"
    assert final.usage.output_tokens == 7
    assert final.usage.input_tokens == 11


def test_anthropic_accepts_x_api_key_and_any_version(serve):
    server = serve(api_keys=["sk-ant"])
    with server.client() as c:
        r = c.post(
            "/anthropic/v1/messages",
            headers={
                "x-api-key": "sk-ant",
                "anthropic-version": "2023-06-01",
                "anthropic-beta": "whatever",
            },
            json={"model": "stub", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
    assert r.status_code == 200
    specs.anthropic(r.json(), "Message")
    assert r.headers["request-id"] == r.headers["x-request-id"]


def test_anthropic_count_tokens(ant):
    count = ant.messages.count_tokens(
        model="stub", messages=[{"role": "user", "content": "x" * 40}]
    )
    assert count.input_tokens == 10


def test_langchain_invoke_and_stream(server):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="stub", base_url=server.url + "/openai/v1", api_key="unused", max_retries=0
    )
    assert llm.invoke("hello").content == "You said: hello"
    assert "".join(chunk.content for chunk in llm.stream("hello")) == "You said: hello"


def test_langchain_uses_responses_for_codex_models(serve):
    server = serve(model_aliases={"gpt-5-codex": "stub/echo"})
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="gpt-5-codex", base_url=server.url + "/openai/v1", api_key="k", max_retries=0
    )
    reply = llm.invoke("hello")
    assert "You said: hello" in str(reply.content)


def _sse_events(lines: list[str]) -> list[tuple[str | None, str]]:
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, line[6:]))
            name = None
    return events


def test_every_body_and_event_through_the_server_matches_the_specs(server):
    msgs = [{"role": "user", "content": "hi"}]
    with server.client() as c:
        specs.openai(
            c.post("/openai/v1/responses", json={"model": "stub", "input": "hi"}).json(), "Response"
        )
        specs.anthropic(
            c.post(
                "/anthropic/v1/messages", json={"model": "stub", "max_tokens": 9, "messages": msgs}
            ).json(),
            "Message",
        )
        specs.anthropic(
            c.post(
                "/anthropic/v1/messages/count_tokens", json={"model": "stub", "messages": msgs}
            ).json(),
            "MessageTokensCount",
        )
        with c.stream(
            "POST",
            "/openai/v1/chat/completions",
            json={
                "model": "stub",
                "messages": msgs,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        ) as r:
            chat = _sse_events(list(r.iter_lines()))
        with c.stream(
            "POST", "/openai/v1/responses", json={"model": "stub", "input": "hi", "stream": True}
        ) as r:
            responses = _sse_events(list(r.iter_lines()))
        with c.stream(
            "POST",
            "/anthropic/v1/messages",
            json={"model": "stub", "max_tokens": 9, "messages": msgs, "stream": True},
        ) as r:
            messages = _sse_events(list(r.iter_lines()))
    assert chat[-1] == (None, "[DONE]")
    for _, data in chat[:-1]:
        specs.openai(json.loads(data), "CreateChatCompletionStreamResponse")
    for name, data in responses:
        event = json.loads(data)
        assert event["type"] == name
        specs.openai_event(event)
    for name, data in messages:
        event = json.loads(data)
        assert event["type"] == name
        specs.anthropic(event, "RawMessageStreamEvent")
