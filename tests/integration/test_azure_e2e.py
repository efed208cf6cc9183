"""Azure OpenAI end to end: official `openai` and `orq-ai-sdk` clients → gateway → fake Azure.

The gateway is configured only through the variables an Azure user already has
(AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, OPENAI_API_VERSION).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from orq_ai_sdk.models import APIErrorResponse

from tests.conftest import MASTER_KEY, RunningGateway
from tests.fakes.azure_server import API_KEY, API_VERSION, FILTERED_PROMPT, FakeAzureOpenAI
from tests.fakes.openai_server import Fault
from tests.fakes.server import module_fake
from tests.integration.clients import oai, orq
from tests.integration.conftest import StartGateway
from tests.integration.tools import TIME, WEATHER

Start = Callable[[dict[str, str]], Any]


fake = module_fake(FakeAzureOpenAI)


@pytest.fixture(scope="module")
def gw(fake: FakeAzureOpenAI, module_gateway: StartGateway) -> RunningGateway:
    return module_gateway(AZURE_OPENAI_ENDPOINT=fake.endpoint, AZURE_OPENAI_API_KEY=API_KEY,
                          OPENAI_API_VERSION=API_VERSION)


def test_plain_answer_with_usage(gw: Any, fake: FakeAzureOpenAI) -> None:
    answer = oai(gw).chat.completions.create(
        model="azure/gpt4o-prod", messages=[{"role": "user", "content": "hello azure"}])
    assert answer.choices[0].message.content == "Echo: hello azure"
    assert answer.model == "azure/gpt4o-prod"
    assert answer.usage is not None and answer.usage.total_tokens > 0
    seen = fake.requests[-1]
    assert seen.path.startswith("/openai/deployments/gpt4o-prod/chat/completions?")
    assert seen.headers["api-key"] == API_KEY and "Authorization" not in seen.headers
    assert seen.body["model"] == "gpt4o-prod"


def test_streamed_answer_with_usage_has_no_annotation_frames(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model="azure/mini", messages=[{"role": "user", "content": "stream me"}], stream=True,
        stream_options={"include_usage": True}))
    assert all(c.id for c in chunks)  # Azure's empty-id filter frame was dropped
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_parallel_tool_calls_streamed(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(
        model="azure/gpt4o-prod", messages=[{"role": "user", "content": "weather and time"}],
        tools=[WEATHER, TIME], stream=True))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            slot = calls.setdefault(tc.index, {"name": "", "args": ""})
            slot["name"] += (tc.function.name or "") if tc.function else ""
            slot["args"] += (tc.function.arguments or "") if tc.function else ""
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["args"]) == {"city": "sample"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_structured_output_passes_through(gw: Any, fake: FakeAzureOpenAI) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": {
        "type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"],
        "additionalProperties": False}}}
    answer = oai(gw).chat.completions.create(
        model="azure/gpt4o-prod", messages=[{"role": "user", "content": "age?"}],
        response_format=fmt)  # type: ignore[arg-type]
    assert json.loads(answer.choices[0].message.content or "") == {"age": 42}
    assert fake.requests[-1].body["response_format"] == fmt


def test_filtered_prompt_is_the_callers_400_with_code_content_filter(gw: Any) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(
            model="azure/gpt4o-prod", messages=[{"role": "user", "content": FILTERED_PROMPT}])
    assert info.value.status_code == 400
    assert info.value.code == "content_filter"


def test_upstream_rate_limit_is_a_429(gw: Any, fake: FakeAzureOpenAI) -> None:
    fake.add_fault(Fault(status=429, headers={"retry-after": "3"}, model="mini"))
    with pytest.raises(openai.RateLimitError) as info:
        oai(gw).chat.completions.create(
            model="azure/mini", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 429


def test_parameter_azure_cannot_take_is_refused(gw: Any, fake: FakeAzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(
            model="azure/mini", messages=[{"role": "user", "content": "hi"}],
            extra_body={"top_k": 3})
    assert "top_k" in str(info.value) and "azure" in str(info.value)
    assert fake.requests == []


def test_orq_sdk_plain_and_streamed(gw: Any) -> None:
    client = orq(gw)
    answer = client.router.chat.completions.create(
        model="azure/gpt4o-prod", messages=[{"role": "user", "content": "from orq"}])
    assert answer.choices[0].message.content == "Echo: from orq"
    assert answer.usage is not None and answer.usage.total_tokens
    stream = client.router.chat.completions.create(
        model="azure/gpt4o-prod", messages=[{"role": "user", "content": "orq stream"}],
        stream=True, stream_options={"include_usage": True})
    events = list(stream)
    text = "".join(e.data.choices[0].delta.content or "" for e in events if e.data.choices)
    assert text == "Echo: orq stream"
    assert events[-1].data.usage is not None


def test_orq_sdk_sees_content_filter_error(gw: Any) -> None:
    client = orq(gw)
    with pytest.raises(APIErrorResponse) as info:
        client.router.chat.completions.create(
            model="azure/gpt4o-prod", messages=[{"role": "user", "content": FILTERED_PROMPT}])
    assert info.value.data.error.code == "content_filter"


def test_missing_endpoint_is_a_503_naming_the_variable(start_gateway: Start,
                                                       tmp_path: Path) -> None:
    gw = start_gateway({"WAYSTATION_HOME": str(tmp_path), "WAYSTATION_MASTER_KEY": MASTER_KEY,
                        "AZURE_OPENAI_API_KEY": API_KEY})
    with pytest.raises(openai.InternalServerError) as info:
        oai(gw).chat.completions.create(
            model="azure/mini", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503
    assert "AZURE_OPENAI_ENDPOINT" in str(info.value)
