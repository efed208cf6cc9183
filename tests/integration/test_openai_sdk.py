"""The official `openai` SDK against the gateway, in front of the fake OpenAI server."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai_server import FakeOpenAI

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    },
}


@pytest.fixture
def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


def test_fake_server_is_faithful_to_the_openai_sdk(fake_openai: FakeOpenAI) -> None:
    """The fake is driven by the official SDK directly: it speaks the real wire format."""
    direct = openai.OpenAI(base_url=fake_openai.base_url, api_key=fake_openai.api_key)
    answer = direct.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content == "Echo: ping"
    chunks = list(direct.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "ping pong"}], stream=True,
        stream_options={"include_usage": True}, tools=[WEATHER_TOOL]))
    assert chunks[-1].usage is not None
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                   for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    assert json.loads(args) == {"city": "sample"}


def test_non_streaming_answer(client: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    answer = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == "Echo: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "openai/gpt-4o-mini"
    assert answer.usage is not None and answer.usage.total_tokens > 0
    assert answer.usage.prompt_tokens_details is not None
    sent = fake_openai.requests[-1].body
    assert sent["model"] == "gpt-4o-mini"


def test_only_what_the_caller_set_is_forwarded(client: openai.OpenAI,
                                               fake_openai: FakeOpenAI) -> None:
    client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
        temperature=0.2, seed=7, user="u1", logit_bias={"50256": -100}, max_completion_tokens=50,
        metadata={"team": "a"}, extra_body={"name": "trace-1"})
    sent = fake_openai.requests[-1].body
    assert sent == {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.2, "seed": 7, "user": "u1", "logit_bias": {"50256": -100},
        "max_completion_tokens": 50,
    }


def test_streaming_answer_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "one two three"}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two three"
    assert all(c.model == "openai/gpt-4o-mini" for c in chunks)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_streaming_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.choices for c in chunks)


def test_stream_ends_with_done_and_is_event_stream(gateway: RunningGateway) -> None:
    with httpx.stream("POST", f"{gateway.url}/v2/gateway/chat/completions",
                      headers={"Authorization": f"Bearer {gateway.key}"},
                      json={"model": "openai/gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        body = resp.read().decode()
    assert body.endswith("data: [DONE]\n\n")
    for block in body.strip().split("\n\n")[:-1]:
        assert block.startswith("data: ")
        chunk = json.loads(block[6:])
        assert chunk["object"] == "chat.completion.chunk"
        assert all("finish_reason" in c for c in chunk["choices"])


def test_tool_call_round_trip(client: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    messages: list = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL], tool_choice="auto")
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "sample"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"})
    second = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "The tool said: 18C and sunny"
    sent = fake_openai.requests[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}


def test_parallel_tool_calls_streamed(client: openai.OpenAI) -> None:
    other = {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"tz": {"type": "string"}}}}}
    chunks = list(client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "both"}],
        tools=[WEATHER_TOOL, other], stream=True))
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            slot = calls.setdefault(tc.index, {"name": "", "args": ""})
            slot["name"] += tc.function.name or ""
            slot["args"] += tc.function.arguments or ""
    assert {v["name"] for v in calls.values()} == {"get_weather", "get_time"}
    assert json.loads(calls[1]["args"]) == {"tz": "sample"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_schema_response_format(client: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    answer = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "who"}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": schema, "strict": True}})
    assert json.loads(answer.choices[0].message.content) == {"name": "sample", "age": 42}
    assert fake_openai.requests[-1].body["response_format"]["json_schema"]["strict"] is True


def test_length_finish_reason(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "long"}], max_tokens=3)
    assert answer.choices[0].finish_reason == "length"


@pytest.mark.parametrize("path", ["/v2/gateway", "/v2/router", "/v2/proxy", "/v3/router", "/v1"])
def test_every_chat_path_answers(gateway: RunningGateway, path: str) -> None:
    c = openai.OpenAI(base_url=f"{gateway.url}{path}", api_key=gateway.key, max_retries=0)
    answer = c.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": path}])
    assert answer.choices[0].message.content == f"Echo: {path}"


def test_response_headers_carry_the_request_id_and_model(gateway: RunningGateway) -> None:
    resp = httpx.post(f"{gateway.url}/v1/chat/completions",
                      headers={"Authorization": f"Bearer {gateway.key}",
                               "X-Request-ID": "req-abc.123"},
                      json={"model": "openai/gpt-4o-mini",
                            "messages": [{"role": "user", "content": "x"}]})
    assert resp.headers["x-request-id"] == "req-abc.123"
    assert resp.headers["x-waystation-model"] == "openai/gpt-4o-mini"
    fresh = httpx.post(f"{gateway.url}/v1/chat/completions",
                       headers={"Authorization": f"Bearer {gateway.key}"},
                       json={"model": "openai/gpt-4o-mini",
                             "messages": [{"role": "user", "content": "x"}]})
    assert len(fresh.headers["x-request-id"]) == 26


def test_models_are_listed(client: openai.OpenAI, gateway: RunningGateway) -> None:
    ids = [m.id for m in client.models.list()]
    assert "openai/gpt-4o-mini" in ids
    for path in ("/v2/models", "/v3/router/models"):
        resp = httpx.get(gateway.url + path, headers={"Authorization": f"Bearer {gateway.key}"})
        assert resp.status_code == 200 and resp.json()["object"] == "list"


def test_health_and_openapi_need_no_key(gateway: RunningGateway) -> None:
    assert httpx.get(f"{gateway.url}/health").json() == {"status": "ok"}
    doc = httpx.get(f"{gateway.url}/openapi.json").json()
    for path in ("/v2/gateway/chat/completions", "/v2/router/chat/completions",
                 "/v3/router/chat/completions", "/v1/chat/completions",
                 "/v2/proxy/chat/completions", "/v2/models", "/v3/router/models", "/v1/models",
                 "/health"):
        assert path in doc["paths"], path
    assert "ChatCompletionRequest" in doc["components"]["schemas"]
