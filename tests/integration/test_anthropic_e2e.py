"""Anthropic end to end: official `openai` and `orq-ai-sdk` clients → gateway → fake Anthropic.

The gateway is configured only through ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY, the variables
the anthropic SDK reads. The fake enforces the real API's rules (thinking blocks first and
signed in a continued tool loop, tool results answering the previous turn's calls, unknown
fields refused), so a wrong translation fails here as it would against Anthropic.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from orq_ai_sdk.models import APIErrorResponse

from tests.conftest import RunningGateway
from tests.fakes.anthropic_server import FakeAnthropic, Fault, signature_for
from tests.fakes.server import module_fake
from tests.integration.clients import oai, orq
from tests.integration.conftest import StartGateway
from tests.integration.tools import WEATHER

SONNET = "anthropic/claude-sonnet-4-5"
THINKING = {"type": "enabled", "budget_tokens": 2048}
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
       "RU5ErkJggg==")

TIME = {"type": "function", "function": {
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}


fake = module_fake(FakeAnthropic)


@pytest.fixture(scope="module")
def gw(fake: FakeAnthropic, module_gateway: StartGateway) -> RunningGateway:
    return module_gateway(ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY=fake.api_key)


def test_multi_turn_tool_use_with_thinking_sends_signed_thinking_before_tool_use(
    gw: Any, fake: FakeAnthropic
) -> None:
    client = oai(gw)
    question = {"role": "user", "content": "weather and time in Paris"}
    first = client.chat.completions.create(
        model=SONNET, messages=[question], tools=[WEATHER, TIME],  # type: ignore[list-item]
        extra_body={"thinking": THINKING})
    msg = first.choices[0].message
    extra = msg.model_extra or {}
    assert first.choices[0].finish_reason == "tool_calls"
    assert extra["reasoning"].startswith("The user asked about weather and time in Paris")
    assert extra["reasoning_signature"] == signature_for(extra["reasoning"])
    calls = msg.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]  # type: ignore[union-attr]

    results = [{"role": "tool", "tool_call_id": c.id, "content": f"{c.function.name} ok"}  # type: ignore[union-attr]
               for c in calls]
    second = client.chat.completions.create(
        model=SONNET, tools=[WEATHER, TIME],  # type: ignore[list-item]
        messages=[question, msg.model_dump(exclude_none=True), *results],  # type: ignore[list-item]
        extra_body={"thinking": THINKING})
    assert second.choices[0].message.content == "The tool said: get_weather ok; get_time ok"

    sent = fake.requests[-1].body["messages"]
    assert [t["role"] for t in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0] == {"type": "thinking", "thinking": extra["reasoning"],
                                     "signature": extra["reasoning_signature"]}
    assert [b["type"] for b in sent[1]["content"]] == ["thinking", "tool_use", "tool_use"]
    assert [(b["type"], b["tool_use_id"]) for b in sent[2]["content"]] == [
        ("tool_result", calls[0].id), ("tool_result", calls[1].id)]


def test_orq_sdk_continues_a_tool_loop_with_reasoning_content_parts(
    gw: Any, fake: FakeAnthropic
) -> None:
    client = orq(gw)
    question = {"role": "user", "content": "weather in Oslo"}
    first = client.router.chat.completions.create(
        model=SONNET, messages=[question], tools=[WEATHER], parallel_tool_calls=False,
        thinking={"type": "enabled", "budget_tokens": 2048})
    msg = first.choices[0].message
    assert msg.reasoning and msg.reasoning_signature
    call = msg.tool_calls[0]
    assistant = {"role": "assistant", "content": [
        {"type": "reasoning", "reasoning": msg.reasoning, "signature": msg.reasoning_signature}],
        "tool_calls": [{"id": call.id, "type": "function", "function": {
            "name": call.function.name, "arguments": call.function.arguments}}]}
    second = client.router.chat.completions.create(
        model=SONNET, tools=[WEATHER], thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[question, assistant,
                  {"role": "tool", "tool_call_id": call.id, "content": "cold"}])
    assert second.choices[0].message.content == "The tool said: cold"
    assert fake.requests[0].body["tool_choice"] == {"type": "auto",
                                                    "disable_parallel_tool_use": True}
    sent = fake.requests[-1].body["messages"][1]["content"]
    assert [b["type"] for b in sent] == ["thinking", "tool_use"]
    assert sent[0]["signature"] == msg.reasoning_signature


def test_parallel_tool_calls_stream_their_arguments_incrementally(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model=SONNET, messages=[{"role": "user", "content": "weather and time"}],
        tools=[WEATHER, TIME], stream=True))  # type: ignore[list-item]
    calls: dict[int, dict[str, Any]] = {}
    fragments: dict[int, int] = {}
    for chunk in chunks:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if tc.id:  # the first delta of a call names it
                assert tc.type == "function" and tc.function and tc.function.name
                calls[tc.index] = {"id": tc.id, "name": tc.function.name, "arguments": ""}
            elif tc.function and tc.function.arguments:
                calls[tc.index]["arguments"] += tc.function.arguments
                fragments[tc.index] = fragments.get(tc.index, 0) + 1
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["arguments"]) == {"city": "sample"}
    assert json.loads(calls[1]["arguments"]) == {"zone": "sample"}
    assert fragments[0] > 1 and fragments[1] > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.mark.parametrize(
    ("model", "native"),
    [("anthropic/claude-sonnet-4-5", True), ("anthropic/claude-opus-4-1", False)],
)
def test_structured_output_with_the_orq_sdk(
    gw: Any, fake: FakeAnthropic, model: str, native: bool
) -> None:
    res = orq(gw).router.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "a person"}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": SCHEMA, "strict": True}})
    assert json.loads(res.choices[0].message.content) == {"name": "sample", "age": 42}
    assert res.choices[0].finish_reason == "stop"
    assert not res.choices[0].message.tool_calls
    sent = fake.requests[-1].body
    if native:
        assert sent["output_config"]["format"]["schema"] == SCHEMA
    else:
        assert sent["tool_choice"]["type"] == "tool" and "output_config" not in sent


def test_images_reach_anthropic_as_image_blocks(gw: Any, fake: FakeAnthropic) -> None:
    res = orq(gw).router.chat.completions.create(model=SONNET, messages=[{
        "role": "user", "content": [
            {"type": "text", "text": "compare"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    assert res.choices[0].message.content == (
        "Echo: compare [image: https://example.com/cat.png] [image: image/png]")
    blocks = fake.requests[-1].body["messages"][0]["content"]
    assert blocks[2] == {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": PNG}}


def test_streamed_answer_with_usage_counts_cached_input(gw: Any, fake: FakeAnthropic) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model=SONNET, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "stream me", "cache_control": {"type": "ephemeral"}}]}]))  # type: ignore[list-item,misc]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    details = usage.prompt_tokens_details
    assert details is not None and details.cached_tokens == 128
    upstream = fake.answers[-1]["usage"]
    assert usage.prompt_tokens == upstream["input_tokens"] + 128 + 16  # read + written
    assert usage.completion_tokens == upstream["output_tokens"]
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert fake.requests[-1].body["messages"][0]["content"][0]["cache_control"] == {
        "type": "ephemeral"}


def test_usage_chunk_is_left_out_unless_asked_for(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model=SONNET, stream=True, messages=[{"role": "user", "content": "hi"}]))
    assert all(c.choices for c in chunks)


@pytest.mark.parametrize(
    ("fault", "exc", "status"),
    [
        (Fault(status=529, error_type="overloaded_error", message="Overloaded"),
         openai.InternalServerError, 503),
        (Fault(status=429, error_type="rate_limit_error", message="slow down",
               headers={"retry-after": "3"}), openai.RateLimitError, 429),
        (Fault(status=400, error_type="invalid_request_error", message="prompt is too long"),
         openai.BadRequestError, 400),
        (Fault(status=404, error_type="not_found_error", message="model: claude-x"),
         openai.NotFoundError, 404),
    ],
)
def test_upstream_errors_surface_with_the_right_status(
    gw: Any, fake: FakeAnthropic, fault: Fault, exc: type[openai.APIStatusError], status: int
) -> None:
    fake.faults.append(fault)
    with pytest.raises(exc) as info:
        oai(gw).chat.completions.create(model=SONNET,
                                        messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    assert fault.message in str(info.value)


def test_orq_sdk_sees_the_providers_400(gw: Any, fake: FakeAnthropic) -> None:
    fake.faults.append(Fault(status=400, error_type="invalid_request_error",
                             message="max_tokens: too large"))
    with pytest.raises(APIErrorResponse) as info:
        orq(gw).router.chat.completions.create(
            model=SONNET, messages=[{"role": "user", "content": "hi"}])
    assert info.value.data.error.type == "invalid_request_error"
    assert "max_tokens: too large" in info.value.data.error.message


def test_an_error_event_mid_stream_reaches_the_client(gw: Any, fake: FakeAnthropic) -> None:
    fake.faults.append(Fault(stream_error_after=5, error_type="overloaded_error",
                             message="Overloaded", pause_before_error=0.3))
    stream = oai(gw).chat.completions.create(
        model=SONNET, stream=True, messages=[{"role": "user", "content": "a long answer"}])
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            seen.append(chunk)
    assert "Overloaded" in str(info.value)
    assert seen  # the answer had started before the error


def test_unsupported_parameters_are_refused_before_sending(gw: Any, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(
            model=SONNET, messages=[{"role": "user", "content": "hi"}], n=2)
    assert info.value.status_code == 400
    assert "'n'" in info.value.message and "anthropic" in info.value.message
    body = info.value.body
    assert isinstance(body, dict) and body.get("param") == "n"
    assert fake.requests == []


def test_an_error_event_before_any_chunk_left_is_a_plain_error_status(
    gw: Any, fake: FakeAnthropic
) -> None:
    """Nothing was sent yet, so the caller gets the error as an HTTP status, not mid-stream."""
    fake.faults.append(Fault(stream_error_after=0, error_type="overloaded_error",
                             message="Overloaded"))
    with pytest.raises(openai.InternalServerError) as info:
        list(oai(gw).chat.completions.create(
            model=SONNET, stream=True, messages=[{"role": "user", "content": "hi"}]))
    assert info.value.status_code == 503
