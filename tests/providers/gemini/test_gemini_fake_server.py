"""The fake Gemini server, driven by Google's official `google-genai` SDK.

If the SDK can talk to the fake (request shapes, SSE framing, response parsing, error bodies),
the fake speaks the real wire format, and the gateway's tests against it mean something.
"""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from tests.fakes.gemini_server import FakeGemini, Fault, signature_for
from tests.fakes.server import module_fake

fake = module_fake(FakeGemini)


@pytest.fixture
def client(fake: FakeGemini) -> genai.Client:
    fake.reset()
    return genai.Client(api_key=fake.api_key, http_options=types.HttpOptions(
        base_url=fake.base_url, api_version="v1beta"))


WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather in a city",
    parameters=types.Schema(type=types.Type.OBJECT,
                            properties={"city": types.Schema(type=types.Type.STRING)},
                            required=["city"]),
)
CLOCK = types.FunctionDeclaration(
    name="get_time",
    parameters=types.Schema(type=types.Type.OBJECT,
                            properties={"zone": types.Schema(type=types.Type.STRING,
                                                             enum=["UTC", "CET"])}),
)


def test_generate_content_echoes_and_counts_tokens(client: genai.Client,
                                                   fake: FakeGemini) -> None:
    res = client.models.generate_content(model="gemini-2.5-flash", contents="hello there")
    assert res.text == "Echo: hello there"
    assert res.candidates[0].finish_reason == types.FinishReason.STOP
    assert res.usage_metadata.prompt_token_count == 5
    assert res.response_id == "fake-resp-1"
    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == fake.api_key
    assert sent.body["contents"] == [{"parts": [{"text": "hello there"}], "role": "user"}]


def test_stream_arrives_in_slices_with_usage_last(client: genai.Client,
                                                   fake: FakeGemini) -> None:
    pieces = []
    last = None
    for chunk in client.models.generate_content_stream(model="gemini-2.5-flash",
                                                       contents="one two three"):
        pieces.append(chunk.text or "")
        last = chunk
    assert "".join(pieces) == "Echo: one two three"
    assert len(pieces) > 3
    assert last is not None and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata.candidates_token_count == 4
    assert fake.requests[-1].query == {"alt": "sse"}


def test_parallel_function_calls_carry_a_thought_signature(client: genai.Client) -> None:
    res = client.models.generate_content(
        model="gemini-3-pro-preview", contents="weather and time?",
        config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[
            WEATHER, CLOCK])]))
    calls = res.function_calls
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert calls[0].args == {"city": "sample"} and calls[1].args == {"zone": "UTC"}
    parts = res.candidates[0].content.parts
    assert parts[0].thought_signature == b"sig:get_weather"
    assert parts[1].thought_signature is None


def test_function_response_turn_is_answered(client: genai.Client, fake: FakeGemini) -> None:
    call = types.Part(function_call=types.FunctionCall(name="get_weather",
                                                       args={"city": "Paris"}),
                      thought_signature=b"sig:get_weather")
    res = client.models.generate_content(
        model="gemini-3-pro-preview",
        contents=[types.Content(role="user", parts=[types.Part(text="weather?")]),
                  types.Content(role="model", parts=[call]),
                  types.Content(role="user", parts=[types.Part.from_function_response(
                      name="get_weather", response={"temp": 21})])],
        config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])]))
    assert res.text == 'The tool said: get_weather={"temp":21}'
    sent = fake.requests[-1].body["contents"][1]["parts"][0]
    assert sent["thoughtSignature"] == signature_for("get_weather")


def test_a_gemini_3_history_without_signature_is_refused(client: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(
            model="gemini-3-pro-preview",
            contents=[types.Content(role="user", parts=[types.Part(text="weather?")]),
                      types.Content(role="model", parts=[types.Part(
                          function_call=types.FunctionCall(name="get_weather", args={}))]),
                      types.Content(role="user", parts=[types.Part.from_function_response(
                          name="get_weather", response={"temp": 21})])])
    assert info.value.code == 400
    assert info.value.status == "INVALID_ARGUMENT"


def test_thoughts_structured_output_and_logprobs(client: genai.Client) -> None:
    res = client.models.generate_content(
        model="gemini-2.5-pro", contents="give json",
        config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024),
            response_mime_type="application/json",
            response_schema=types.Schema(type=types.Type.OBJECT, properties={
                "n": types.Schema(type=types.Type.INTEGER)}),
            response_logprobs=True, logprobs=2))
    parts = res.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text == "Let me think about that."
    assert parts[1].text == '{"n":42}'
    assert res.usage_metadata.thoughts_token_count == 5
    chosen = res.candidates[0].logprobs_result.chosen_candidates
    assert chosen[0].token == '{"n":42}' and chosen[0].log_probability == -0.5


def test_errors_parse_as_sdk_errors(client: genai.Client, fake: FakeGemini) -> None:
    fake.add_fault(Fault(status=429, body={"error": {
        "code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                     "retryDelay": "7s"}]}}))
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(genai_errors.ClientError) as missing:
        client.models.generate_content(model="missing-model", contents="x")
    assert missing.value.code == 404


def test_a_wrong_key_is_refused_like_google_does(fake: FakeGemini) -> None:
    client = genai.Client(api_key="wrong",
                          http_options=types.HttpOptions(base_url=fake.base_url))
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert info.value.code == 400
    assert info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_blocked_prompt_has_feedback_and_no_candidates(client: genai.Client) -> None:
    res = client.models.generate_content(model="gemini-2.5-flash", contents="please block")
    assert res.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert not res.candidates


def test_a_stream_streams_each_candidate(client: genai.Client) -> None:
    texts: dict[int, str] = {}
    for chunk in client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="hi",
            config=types.GenerateContentConfig(candidate_count=2)):
        for cand in chunk.candidates or []:
            texts[cand.index or 0] = texts.get(cand.index or 0, "") + "".join(
                p.text or "" for p in cand.content.parts or [])
    assert texts == {0: "Echo: hi", 1: "Echo: hi"}
