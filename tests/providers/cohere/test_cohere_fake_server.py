"""The fake Cohere server, checked with the official `cohere` SDK (ClientV2 chat and chat_stream).

If the official client parses the fake's answers and events into its own typed models, the
fake speaks Cohere's v2 wire format, and the translation tests that use it are meaningful.
"""

from __future__ import annotations

import json

import cohere
import pytest
from cohere.core.api_error import ApiError
from tests.fakes.cohere_server import API_KEY, FakeCohere
from tests.fakes.server import module_fake

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "weather",
                                      "parameters": {"type": "object", "properties": {
                                          "city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "time",
                                      "parameters": {"type": "object", "properties": {
                                          "tz": {"type": "string"}}}}},
]


fake = module_fake(FakeCohere)


@pytest.fixture
def client(fake: FakeCohere) -> cohere.ClientV2:
    fake.reset()
    return cohere.ClientV2(api_key=API_KEY, base_url=fake.base_url)


def test_sdk_chat_parses_the_answer(fake: FakeCohere, client: cohere.ClientV2) -> None:
    res = client.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "hi"}],
                      thinking={"type": "enabled", "token_budget": 1024}, logprobs=True)
    assert res.finish_reason == "COMPLETE"
    kinds = [item.type for item in res.message.content or []]
    assert kinds == ["thinking", "text"]
    assert res.message.content[1].text == "Echo: hi"  # type: ignore[union-attr,index]
    assert res.usage is not None and res.usage.billed_units is not None
    assert res.usage.billed_units.output_tokens
    assert res.logprobs and res.logprobs[0].token_ids
    seen = fake.requests[-1]
    assert seen.path == "/v2/chat" and seen.headers["Authorization"] == f"Bearer {API_KEY}"


def test_sdk_chat_parses_parallel_tool_calls(client: cohere.ClientV2) -> None:
    res = client.chat(model="command-a-03-2025", tools=TOOLS, tool_choice="REQUIRED",
                      messages=[{"role": "user", "content": "weather and time"}])
    assert res.finish_reason == "TOOL_CALL"
    assert res.message.tool_plan
    calls = res.message.tool_calls or []
    assert [c.function.name for c in calls if c.function] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments or "") == {"city": "sample"}  # type: ignore[union-attr]


def test_sdk_chat_stream_parses_every_event(client: cohere.ClientV2) -> None:
    events = list(client.chat_stream(
        model="command-a-03-2025", tools=TOOLS,
        messages=[{"role": "user", "content": "weather and time"}]))
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    assert {"tool-plan-delta", "tool-call-start", "tool-call-delta", "tool-call-end"} <= set(kinds)
    args = "".join(e.delta.message.tool_calls.function.arguments  # type: ignore[union-attr]
                   for e in events if e.type == "tool-call-delta" and e.index == 0)
    assert json.loads(args) == {"city": "sample"}
    end = events[-1]
    assert end.delta.finish_reason == "TOOL_CALL"  # type: ignore[union-attr]
    assert end.delta.usage.billed_units.input_tokens  # type: ignore[union-attr]


def test_sdk_chat_stream_text_with_thinking(client: cohere.ClientV2) -> None:
    events = list(client.chat_stream(
        model="command-a-reasoning", thinking={"type": "enabled"},
        messages=[{"role": "user", "content": "deep question"}]))
    text = "".join(e.delta.message.content.text or ""  # type: ignore[union-attr]
                   for e in events if e.type == "content-delta")
    thought = "".join(e.delta.message.content.thinking or ""  # type: ignore[union-attr]
                      for e in events if e.type == "content-delta")
    assert text == "Echo: deep question"
    assert thought == "Thinking it over carefully."


def test_sdk_sees_the_fakes_errors(fake: FakeCohere) -> None:
    bad = cohere.ClientV2(api_key="wrong", base_url=fake.base_url)
    with pytest.raises(ApiError) as info:
        bad.chat(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401
    good = cohere.ClientV2(api_key=API_KEY, base_url=fake.base_url)
    with pytest.raises(ApiError) as info:
        good.chat(model="m", messages=[{"role": "user", "content": "please fail 400"}])
    assert info.value.status_code == 400
    assert info.value.body["message"].startswith("invalid request")  # type: ignore[index]
