"""Gemini end to end: official `openai` and `orq-ai-sdk` clients → gateway → fake Gemini.

The gateway is configured only through the variables a Gemini user already has
(GEMINI_API_KEY, GEMINI_BASE_URL). The fake checks requests the way Gemini does, and records
them, so each test can assert both what the caller saw and what went over the wire.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from orq_ai_sdk.models import APIErrorResponse

from tests.conftest import RunningGateway
from tests.fakes.gemini_server import FakeGemini, Fault, signature_for
from tests.fakes.server import module_fake
from tests.integration.clients import oai, orq
from tests.integration.conftest import StartGateway

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": ["string", "null"]}}}}}
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg"
       "AAIAAAUAAXpeqz8AAAAASUVORK5CYII=")


fake = module_fake(FakeGemini)


@pytest.fixture(scope="module")
def gw(fake: FakeGemini, module_gateway: StartGateway) -> RunningGateway:
    return module_gateway(GEMINI_BASE_URL=fake.base_url, GEMINI_API_KEY=fake.api_key)


def test_tool_use_across_two_turns_round_trips_the_thought_signature(
        gw: Any, fake: FakeGemini) -> None:
    client = oai(gw)
    messages: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
    first = client.chat.completions.create(model="google/gemini-3-pro-preview",
                                           messages=messages, tools=[WEATHER, TIME])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    extra = calls[0].model_extra or {}
    assert extra["thought_signature"] == signature_for("get_weather")
    assert extra["extra_content"] == {"google": {"thought_signature": signature_for(
        "get_weather")}}
    assert calls[0].id != calls[1].id

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp": 21}'})
    messages.append({"role": "tool", "tool_call_id": calls[1].id, "content": "12:00"})
    second = client.chat.completions.create(model="google/gemini-3-pro-preview",
                                            messages=messages, tools=[WEATHER, TIME])
    assert second.choices[0].message.content == (
        'The tool said: get_weather={"temp":21}; get_time={"output":"12:00"}')
    sent = fake.requests[-1].body["contents"]
    model_turn = sent[1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["thoughtSignature"] == signature_for("get_weather")
    assert model_turn["parts"][0]["functionCall"] == {"name": "get_weather",
                                                      "args": {"city": "sample"}}
    assert "thoughtSignature" not in model_turn["parts"][1]
    assert [p["functionResponse"]["name"] for p in sent[2]["parts"]] == ["get_weather",
                                                                         "get_time"]


def test_tool_round_trip_with_the_orq_sdk(gw: Any, fake: FakeGemini) -> None:
    client = orq(gw)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Rome?"}]
    first = client.router.chat.completions.create(
        model="gemini/gemini-3-flash-preview", messages=messages, tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    call = first.choices[0].message.tool_calls[0]
    assert first.model == "google/gemini-3-flash-preview"
    assert call.thought_signature == signature_for("get_weather")
    messages.append({"role": "assistant", "tool_calls": [{
        "id": call.id, "type": "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments},
        "extra_content": {"google": {"thought_signature": call.thought_signature}}}]})
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    second = client.router.chat.completions.create(
        model="gemini/gemini-3-flash-preview", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == 'The tool said: get_weather={"output":"sunny"}'
    assert fake.requests[0].body["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    turn = fake.requests[-1].body["contents"][1]["parts"][0]
    assert turn["thoughtSignature"] == signature_for("get_weather")


def test_parallel_function_calls_streamed(gw: Any, fake: FakeGemini) -> None:
    calls: dict[int, dict[str, str]] = {}
    finish = None
    with oai(gw).chat.completions.create(
            model="google/gemini-2.5-flash", messages=[{"role": "user", "content": "both"}],
            tools=[WEATHER, TIME], stream=True) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                for delta in choice.delta.tool_calls or []:
                    slot = calls.setdefault(delta.index, {"id": "", "name": "", "args": ""})
                    slot["id"] += delta.id or ""
                    slot["name"] += (delta.function and delta.function.name) or ""
                    slot["args"] += (delta.function and delta.function.arguments) or ""
                finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["args"]) == {"city": "sample"}
    assert json.loads(calls[1]["args"]) == {"zone": "sample"}
    assert calls[0]["id"] != calls[1]["id"]
    assert fake.requests[-1].query == {"alt": "sse"}


def test_structured_output(gw: Any, fake: FakeGemini) -> None:
    res = orq(gw).router.chat.completions.create(
        model="google/gemini-2.5-flash", messages=[{"role": "user", "content": "forecast"}],
        response_format={"type": "json_schema", "json_schema": {
            "name": "forecast", "schema": {"type": "object", "properties": {
                "temp": {"type": "number"}, "sky": {"enum": ["clear", "cloudy"]}},
                "required": ["temp"]}}})
    assert json.loads(res.choices[0].message.content) == {"temp": 42, "sky": "clear"}
    config = fake.requests[-1].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["properties"]["sky"] == {"type": "STRING",
                                                             "enum": ["clear", "cloudy"]}


def test_an_image_reaches_gemini(gw: Any, fake: FakeGemini) -> None:
    res = oai(gw).chat.completions.create(model="google/gemini-2.5-flash", messages=[{
        "role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": PNG}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpeg"}}]}])
    assert res.choices[0].message.content == "Echo: What is this? [saw image/png, image/jpeg]"
    parts = fake.requests[-1].body["contents"][0]["parts"]
    assert parts[1]["inlineData"]["mimeType"] == "image/png"
    assert parts[2]["fileData"] == {"fileUri": "https://example.com/cat.jpeg",
                                    "mimeType": "image/jpeg"}


def test_reasoning_is_surfaced(gw: Any, fake: FakeGemini) -> None:
    res = oai(gw).chat.completions.create(
        model="google/gemini-2.5-pro", messages=[{"role": "user", "content": "think"}],
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 2048}})
    message = res.choices[0].message
    assert message.content == "Echo: think"
    assert (message.model_extra or {})["reasoning"] == "Let me think about that."
    assert res.usage is not None
    assert res.usage.completion_tokens_details.reasoning_tokens == 5
    assert res.usage.completion_tokens == 2 + 5
    assert fake.requests[-1].body["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 2048, "includeThoughts": True}


def test_reasoning_is_streamed_with_the_orq_sdk(gw: Any, fake: FakeGemini) -> None:
    reasoning, content = "", ""
    with orq(gw).router.chat.completions.create(
            model="google/gemini-3-pro-preview", messages=[{"role": "user", "content": "hm"}],
            reasoning_effort="low", stream=True) as stream:
        for event in stream:
            for choice in event.data.choices:
                reasoning += choice.delta.reasoning or ""
                content += choice.delta.content or ""
    assert reasoning == "Let me think about that."
    assert content == "Echo: hm"
    assert fake.requests[-1].body["generationConfig"]["thinkingConfig"] == {
        "thinkingLevel": "LOW", "includeThoughts": True}


def test_a_schema_keyword_gemini_cannot_express_is_a_400(gw: Any, fake: FakeGemini) -> None:
    tool = {"type": "function", "function": {"name": "pick", "parameters": {
        "type": "object", "properties": {"n": {"type": "number", "multipleOf": 5}}}}}
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(model="google/gemini-2.5-flash", tools=[tool],
                                        messages=[{"role": "user", "content": "x"}])
    error = info.value.body
    assert isinstance(error, dict)
    assert error["param"] == "tools[0].function.parameters.properties.n.multipleOf"
    assert "'multipleOf'" in error["message"] and "tool 'pick'" in error["message"]
    with pytest.raises(APIErrorResponse) as orq_info:
        orq(gw).router.chat.completions.create(
            model="google/gemini-2.5-flash", messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "function", "function": {"name": "tree", "parameters": {
                "type": "object", "properties": {"root": {"$ref": "#"}}}}}])
    assert orq_info.value.data.error.code == "unsupported_parameter"
    assert "recursive" in orq_info.value.data.error.message
    assert fake.requests == []


def test_usage_only_when_asked_for(gw: Any) -> None:
    def run(include: bool) -> tuple[str, Any]:
        text, usage = "", None
        with orq(gw).router.chat.completions.create(
                model="google/gemini-2.5-flash", stream=True,
                messages=[{"role": "system", "content": "cache-me"},
                          {"role": "user", "content": "a b c"}],
                stream_options={"include_usage": include}) as stream:
            for event in stream:
                for choice in event.data.choices:
                    text += choice.delta.content or ""
                usage = event.data.usage or usage
        return text, usage

    text, usage = run(True)
    assert text == "Echo: a b c"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (6, 4, 10)
    assert usage.prompt_tokens_details.cached_tokens == 2
    assert run(False)[1] is None


def test_upstream_errors_are_mapped(gw: Any, fake: FakeGemini) -> None:
    client = oai(gw)
    ask: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}]}
    fake.add_fault(Fault(status=429, body={"error": {
        "code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                     "retryDelay": "12s"}]}}))
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="google/gemini-2.5-flash", **ask)
    assert "Resource has been exhausted" in str(limited.value)
    fake.add_fault(Fault(status=503, body={"error": {
        "code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}))
    with pytest.raises(openai.InternalServerError) as down:
        client.chat.completions.create(model="google/gemini-2.5-flash", **ask)
    assert down.value.status_code == 503
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="google/missing-model", **ask)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="google/gemini-2.5-flash", max_tokens=5,
                                       extra_body={"thinking": {"type": "disabled"},
                                                   "reasoning_effort": "low"}, **ask)
    assert bad.value.status_code == 400


def test_a_stream_cut_short_ends_with_an_error_event(gw: Any, fake: FakeGemini) -> None:
    """Never a short answer passed off as complete: the caller gets an error event. (What
    arrived just before the cut may or may not have been forwarded, so only a prefix is
    asserted.)"""
    fake.add_fault(Fault(die_after_events=2))
    text = ""
    with pytest.raises(openai.APIError), oai(gw).chat.completions.create(
            model="google/gemini-2.5-flash", stream=True,
            messages=[{"role": "user", "content": "one two three four"}]) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
    assert "Echo: one two three four".startswith(text)
    assert text != "Echo: one two three four"


def test_a_blocked_prompt_is_a_content_filter_answer(gw: Any) -> None:
    res = oai(gw).chat.completions.create(model="google/gemini-2.5-flash",
                                          messages=[{"role": "user", "content": "please block"}])
    assert res.choices[0].finish_reason == "content_filter"
    assert res.choices[0].message.content is None
    assert "SAFETY" in (res.choices[0].message.refusal or "")


def test_a_parameter_gemini_cannot_take_is_refused(gw: Any, fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(model="google/gemini-2.5-flash",
                                        messages=[{"role": "user", "content": "x"}],
                                        logit_bias={"42": 5})
    error = info.value.body
    assert isinstance(error, dict)
    assert error["param"] == "logit_bias" and "'google'" in error["message"]
    assert fake.requests == []


def test_the_gateway_key_goes_as_x_goog_api_key(gw: Any, fake: FakeGemini) -> None:
    res = oai(gw).chat.completions.create(model="google/gemini-2.5-flash", n=2, seed=1,
                                          messages=[{"role": "user", "content": "hi"}])
    assert [c.message.content for c in res.choices] == ["Echo: hi", "Echo: hi"]
    sent = fake.requests[-1]
    assert sent.headers["x-goog-api-key"] == fake.api_key
    assert "Authorization" not in sent.headers
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.body["generationConfig"] == {"candidateCount": 2, "seed": 1}
