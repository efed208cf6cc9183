"""Cohere end to end: official `openai` and `orq-ai-sdk` clients → gateway → fake Cohere v2.

The gateway is configured only through COHERE_API_KEY and COHERE_BASE_URL.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from orq_ai_sdk.models import APIErrorResponse

from tests.conftest import RunningGateway
from tests.fakes.cohere_server import API_KEY, FAIL_MIDWAY, FakeCohere
from tests.fakes.openai_server import Fault
from tests.fakes.server import module_fake
from tests.integration.clients import oai, orq
from tests.integration.conftest import StartGateway
from tests.integration.tools import WEATHER

MODEL = "cohere/command-a-03-2025"

TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Time in a zone",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}


fake = module_fake(FakeCohere)


@pytest.fixture(scope="module")
def gw(fake: FakeCohere, module_gateway: StartGateway) -> RunningGateway:
    return module_gateway(COHERE_API_KEY=API_KEY, COHERE_BASE_URL=fake.base_url)


def test_plain_answer_with_usage_and_translated_parameters(gw: Any, fake: FakeCohere) -> None:
    answer = oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "hello cohere"}],
        temperature=0.2, top_p=0.8, max_tokens=50, stop=["END"], seed=3,
        extra_body={"top_k": 20})
    assert answer.choices[0].message.content == "Echo: hello cohere"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == MODEL
    assert answer.usage is not None and answer.usage.total_tokens == (
        answer.usage.prompt_tokens + answer.usage.completion_tokens) > 0
    sent = fake.requests[-1].body
    assert {k: sent[k] for k in ("p", "k", "max_tokens", "stop_sequences", "seed")} == {
        "p": 0.8, "k": 20, "max_tokens": 50, "stop_sequences": ["END"], "seed": 3}
    assert "top_p" not in sent and "stop" not in sent


def test_streamed_answer_with_usage(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream me please"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_parallel_tool_calls_stream_then_the_tool_result_round_trips(
    gw: Any, fake: FakeCohere
) -> None:
    client = oai(gw)
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "weather and time"}],
        tools=[WEATHER, TIME], tool_choice="required", stream=True))
    calls: dict[int, dict[str, str]] = {}
    pieces = 0
    for chunk in chunks:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            slot = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
            slot["id"] += tc.id or ""
            slot["name"] += (tc.function.name or "") if tc.function else ""
            slot["args"] += (tc.function.arguments or "") if tc.function else ""
            pieces += 1
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert pieces > 4  # the arguments arrived in several pieces
    assert json.loads(calls[0]["args"]) == {"city": "sample"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert fake.requests[-1].body["tool_choice"] == "REQUIRED"
    plan = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    answer = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=[
        {"role": "user", "content": "weather and time"},
        {"role": "assistant", "content": plan, "tool_calls": [
            {"id": calls[i]["id"], "type": "function",
             "function": {"name": calls[i]["name"], "arguments": calls[i]["args"]}}
            for i in sorted(calls)]},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18C"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"}])
    assert answer.choices[0].message.content == "The tool said: noon"
    assistant = fake.requests[-1].body["messages"][1]
    assert assistant["tool_plan"] == "I will call the tools." and "content" not in assistant


def test_structured_output_becomes_json_object_with_schema(gw: Any, fake: FakeCohere) -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    answer = oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "age as JSON"}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": schema}})
    assert json.loads(answer.choices[0].message.content or "") == {"age": 42}
    assert fake.requests[-1].body["response_format"] == {"type": "json_object",
                                                         "json_schema": schema}


def test_thinking_comes_back_as_reasoning(gw: Any, fake: FakeCohere) -> None:
    answer = oai(gw).chat.completions.create(
        model="cohere/command-a-reasoning-08-2025",
        messages=[{"role": "user", "content": "think"}],
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    message = answer.choices[0].message
    assert (message.model_extra or {})["reasoning"] == "Thinking it over carefully."
    assert message.content == "Echo: think"
    assert fake.requests[-1].body["thinking"] == {"type": "enabled", "token_budget": 1024}


def test_upstream_400_and_429_keep_their_status(gw: Any, fake: FakeCohere) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "please fail 400"}])
    assert "the fake refuses this" in str(bad.value)
    fake.add_fault(Fault(status=429, body={"id": "x", "message": "too many"},
                         headers={"retry-after": "2"}))
    with pytest.raises(openai.RateLimitError) as limited:
        oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert limited.value.status_code == 429


def test_generation_error_mid_stream_reaches_the_caller_as_an_error_event(gw: Any) -> None:
    # before the first byte reaches the caller it may be an HTTP error, after it an SSE error
    with pytest.raises(openai.APIError) as info:
        list(oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": FAIL_MIDWAY}], stream=True))
    assert "internal server error" in str(info.value)


def test_parameter_cohere_cannot_take_is_refused_before_sending(
    gw: Any, fake: FakeCohere
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2)
    assert info.value.code == "unsupported_parameter"
    assert "'n'" in str(info.value) and "cohere" in str(info.value)
    assert fake.requests == []


def test_orq_sdk_plain_streamed_and_error(gw: Any) -> None:
    client = orq(gw)
    answer = client.router.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "from orq"}])
    assert answer.choices[0].message.content == "Echo: from orq"
    assert answer.usage is not None and answer.usage.total_tokens
    events = list(client.router.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "weather"}], tools=[WEATHER],
        stream=True, stream_options={"include_usage": True}))
    names = [tc.function.name for e in events if e.data.choices
             for tc in e.data.choices[0].delta.tool_calls or [] if tc.function and tc.function.name]
    assert names == ["get_weather"]
    assert events[-1].data.usage is not None
    with pytest.raises(APIErrorResponse) as info:
        client.router.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "please fail 400"}])
    assert info.value.data.error.type == "invalid_request_error"
