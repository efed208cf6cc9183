"""The fake Anthropic server is driven with the official `anthropic` SDK.

If the SDK parses the fake's answers, streams and errors, the fake speaks the real wire
format, and the adapter and end-to-end tests built on it prove something about Anthropic.
"""

from __future__ import annotations

import anthropic
import pytest
from tests.fakes.anthropic_server import REDACTED_TRIGGER, FakeAnthropic, Fault
from tests.fakes.server import module_fake

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]},
}
TIME = {
    "name": "get_time",
    "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}},
}


fake = module_fake(FakeAnthropic)


@pytest.fixture
def client(fake: FakeAnthropic) -> anthropic.Anthropic:
    fake.reset()
    return anthropic.Anthropic(base_url=fake.base_url, api_key=fake.api_key, max_retries=0)


def test_sdk_reads_a_plain_answer_and_the_fake_checks_the_key(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    msg = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=100,
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "Echo: hello there"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0
    headers = {k.lower(): v for k, v in fake.requests[0].headers.items()}
    assert headers["anthropic-version"]
    assert fake.requests[0].path == "/v1/messages"
    wrong = anthropic.Anthropic(base_url=fake.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                              messages=[{"role": "user", "content": "hi"}])


def test_sdk_stream_accumulates_to_the_same_message_as_the_plain_answer(
    client: anthropic.Anthropic,
) -> None:
    kwargs = {
        "model": "claude-sonnet-4-5", "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "tools": [WEATHER, TIME],
        "messages": [{"role": "user", "content": "weather and time in Paris"}],
    }
    plain = client.messages.create(**kwargs)  # type: ignore[call-overload]
    with client.messages.stream(**kwargs) as stream:  # type: ignore[arg-type]
        deltas = [e for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use", "tool_use"]
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in plain.content]
    assert final.stop_reason == plain.stop_reason == "tool_use"
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert len(deltas) > 2  # arguments arrived in fragments


def test_sdk_reads_streamed_text_and_redacted_thinking(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=3000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": f"say {REDACTED_TRIGGER}"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("Echo: say")
    assert final.content[0].type == "redacted_thinking"


def test_sdk_multi_turn_with_thinking_is_accepted_only_with_the_signature(
    client: anthropic.Anthropic,
) -> None:
    first = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2000}, tools=[WEATHER],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "weather in Paris"}],
    )
    call = first.content[1]
    assert call.type == "tool_use"
    turns = [
        {"role": "user", "content": "weather in Paris"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                      "content": "sunny"}]},
    ]
    second = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2000}, tools=[WEATHER], messages=turns,
    )
    assert second.content[-1].text == "The tool said: sunny"  # type: ignore[union-attr]
    turns[1]["content"] = turns[1]["content"][1:]  # thinking block left out
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=4000,
            thinking={"type": "enabled", "budget_tokens": 2000}, tools=[WEATHER],
            messages=turns,
        )
    assert "Expected `thinking`" in err.value.message


def test_sdk_sees_structured_output_json(client: anthropic.Anthropic) -> None:
    msg = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=100,
        output_config={"format": {"type": "json_schema", "schema": {
            "type": "object", "properties": {"n": {"type": "integer"}}}}},
        messages=[{"role": "user", "content": "a number"}],
    )
    assert msg.content[0].text == '{"n":42}'  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "kind", "exc"),
    [
        (529, "overloaded_error", anthropic.InternalServerError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (404, "not_found_error", anthropic.NotFoundError),
    ],
)
def test_sdk_raises_its_own_errors_for_injected_faults(
    client: anthropic.Anthropic, fake: FakeAnthropic, status: int, kind: str,
    exc: type[Exception],
) -> None:
    fake.faults.append(Fault(status=status, error_type=kind, message="nope"))
    with pytest.raises(exc) as err:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["error"]["type"] == kind  # type: ignore[attr-defined]


def test_sdk_raises_on_an_error_event_mid_stream(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    fake.faults.append(Fault(stream_error_after=4, error_type="overloaded_error",
                             message="Overloaded"))
    with pytest.raises(anthropic.APIStatusError) as err, client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100,
        messages=[{"role": "user", "content": "a long answer please"}],
    ) as stream:
        for _ in stream:
            pass
    assert "Overloaded" in str(err.value)


def test_fake_refuses_fields_the_real_api_does_not_know(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}],
                               extra_body={"frequency_penalty": 1})
    assert "frequency_penalty" in err.value.message
