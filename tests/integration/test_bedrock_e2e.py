"""Bedrock end to end: official `openai` and `orq-ai-sdk` clients → gateway → fake Bedrock.

The gateway signs with SigV4 using credentials from botocore's standard chain (here the
environment), and the fake verifies every signature; ConverseStream answers travel in the
binary event-stream framing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.bedrock_server import (
    ACCESS_KEY,
    BEARER_TOKEN,
    FAIL_MIDWAY,
    GUARDRAIL,
    SECRET_KEY,
    FakeBedrock,
)
from tests.fakes.openai_server import Fault
from tests.fakes.server import module_fake
from tests.integration.clients import oai, orq
from tests.integration.conftest import StartGateway, provider_env
from tests.integration.tools import TIME, WEATHER
from tests.providers.bedrock.test_bedrock_auth import isolate_aws_environment

Start = Callable[[dict[str, str]], Any]
MODEL = "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0"


fake = module_fake(FakeBedrock)


def bedrock_variables(fake: FakeBedrock) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.endpoint, "AWS_REGION": "us-east-1"}


def gateway_env(fake: FakeBedrock, home: Path, **extra: str) -> dict[str, str]:
    return provider_env(home, **bedrock_variables(fake), **extra)


@pytest.fixture(scope="module")
def gw(fake: FakeBedrock, module_gateway: StartGateway,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """Signs with the access key in the environment (botocore's chain reads it at the first
    request); the environment stays so for the module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_aws_environment(monkeypatch, tmp_path_factory.mktemp("aws"))
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        yield module_gateway(**bedrock_variables(fake))


def test_plain_answer_with_usage_over_a_verified_signature(gw: Any, fake: FakeBedrock) -> None:
    answer = oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "hello bedrock"}],
        max_tokens=200, temperature=0.5, stop=["END"], extra_body={"top_k": 40})
    assert answer.choices[0].message.content == "Echo: hello bedrock"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == MODEL
    assert answer.usage is not None and answer.usage.total_tokens > 0
    assert fake.verified_signatures == 1
    sent = fake.requests[-1]
    assert sent.path == "/model/anthropic.claude-sonnet-4-5-20250929-v1:0/converse"
    assert sent.body["system"] == [{"text": "Be brief."}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 200, "temperature": 0.5,
                                            "stopSequences": ["END"]}
    assert sent.body["additionalModelRequestFields"] == {"top_k": 40}


def test_streamed_answer_with_usage(gw: Any, fake: FakeBedrock) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream through frames"}],
        stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream through frames"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert fake.requests[-1].path.endswith("/converse-stream")
    assert fake.verified_signatures == 1


def test_parallel_tool_calls_streamed(gw: Any, fake: FakeBedrock) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "weather and time"}],
        tools=[WEATHER, TIME], tool_choice="required", stream=True))
    calls: dict[int, dict[str, str]] = {}
    fragments = 0
    for chunk in chunks:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            slot = calls.setdefault(tc.index, {"name": "", "args": ""})
            slot["name"] += (tc.function.name or "") if tc.function else ""
            slot["args"] += (tc.function.arguments or "") if tc.function else ""
            fragments += 1
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[1]["args"]) == {"tz": "sample"}
    assert fragments > 4
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert fake.requests[-1].body["toolConfig"]["toolChoice"] == {"any": {}}


def test_structured_output_through_the_forced_tool(gw: Any, fake: FakeBedrock) -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    answer = oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "age?"}], response_format=fmt)
    assert json.loads(answer.choices[0].message.content or "") == {"age": 42}
    assert answer.choices[0].finish_reason == "stop"
    assert not answer.choices[0].message.tool_calls
    chunks = list(oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "age?"}], response_format=fmt,
        stream=True))
    assert json.loads("".join(c.choices[0].delta.content or "" for c in chunks
                              if c.choices)) == {"age": 42}


def test_multi_turn_tool_use_with_thinking_round_trips_the_signature(
    gw: Any, fake: FakeBedrock
) -> None:
    client = oai(gw)
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    question = {"role": "user", "content": "think, then check the weather"}
    reasoning, signature, calls = "", "", {}
    for chunk in client.chat.completions.create(
            model=MODEL, messages=[question], tools=[WEATHER], stream=True,
            max_tokens=2048, extra_body=thinking):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning += (delta.model_extra or {}).get("reasoning") or ""
        signature += (delta.model_extra or {}).get("reasoning_signature") or ""
        for tc in delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
            slot["id"] += tc.id or ""
            slot["name"] += (tc.function.name or "") if tc.function else ""
            slot["args"] += (tc.function.arguments or "") if tc.function else ""
    assert reasoning == "Let me think about the tools." and signature.startswith("sig-")
    call = calls[0]
    answer = client.chat.completions.create(model=MODEL, tools=[WEATHER], max_tokens=2048,
                                            extra_body=thinking, messages=[
        question,
        {"role": "assistant", "content": None, "reasoning": reasoning,  # type: ignore[misc]
         "reasoning_signature": signature, "tool_calls": [
             {"id": call["id"], "type": "function",
              "function": {"name": call["name"], "arguments": call["args"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "21C and clear"}])
    assert answer.choices[0].message.content == "The tool said: 21C and clear"
    assistant = fake.requests[-1].body["messages"][1]
    assert assistant["content"][0] == {"reasoningContent": {"reasoningText": {
        "text": reasoning, "signature": signature}}}
    assert "toolUse" in assistant["content"][1]


def test_upstream_errors_keep_their_meaning(gw: Any, fake: FakeBedrock) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "please fail 400"}])
    assert bad.value.code == "ValidationException"
    assert "The fake refuses this input." in str(bad.value)
    fake.add_fault(Fault(status=429, headers={"retry-after": "2"}))
    with pytest.raises(openai.RateLimitError):
        oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}])


def test_guardrail_intervention_is_content_filter(gw: Any) -> None:
    answer = oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": GUARDRAIL}])
    assert answer.choices[0].finish_reason == "content_filter"


def test_stream_exception_frame_reaches_the_caller_as_an_error(gw: Any) -> None:
    # before the first byte reaches the caller it may be an HTTP error, after it an SSE error
    with pytest.raises(openai.APIError) as info:
        list(oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": FAIL_MIDWAY}], stream=True))
    assert "model stream failed" in str(info.value)


def test_refused_parameter_is_a_400_before_sending(gw: Any, fake: FakeBedrock) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], seed=1)
    assert info.value.code == "unsupported_parameter"
    assert "'seed'" in str(info.value) and "bedrock" in str(info.value)
    assert fake.requests == []


def test_orq_sdk_plain_and_streamed(gw: Any) -> None:
    client = orq(gw)
    answer = client.router.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "from orq"}])
    assert answer.choices[0].message.content == "Echo: from orq"
    assert answer.usage is not None and answer.usage.total_tokens
    events = list(client.router.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "weather and time"}],
        tools=[WEATHER, TIME], stream=True, stream_options={"include_usage": True}))
    names = [tc.function.name for e in events if e.data.choices
             for tc in e.data.choices[0].delta.tool_calls or [] if tc.function and tc.function.name]
    assert names == ["get_weather", "get_time"]
    assert events[-1].data.usage is not None


def test_bearer_api_key_is_used_without_signing(
    fake: FakeBedrock, start_gateway: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.reset()
    isolate_aws_environment(monkeypatch, tmp_path)
    gw = start_gateway(gateway_env(fake, tmp_path, AWS_BEARER_TOKEN_BEDROCK=BEARER_TOKEN))
    answer = oai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "key"}])
    assert answer.choices[0].message.content == "Echo: key"
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {BEARER_TOKEN}"
    assert fake.verified_signatures == 0


def test_no_credentials_is_a_503_naming_the_variables(
    fake: FakeBedrock, start_gateway: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.reset()
    isolate_aws_environment(monkeypatch, tmp_path)
    gw = start_gateway(gateway_env(fake, tmp_path))
    with pytest.raises(openai.InternalServerError) as info:
        oai(gw).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503
    assert "AWS_ACCESS_KEY_ID" in str(info.value)
    assert "AWS_BEARER_TOKEN_BEDROCK" in str(info.value)
    assert fake.requests == []
