"""Every validation rule of the chat request, checked on the pure parser."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from waystation.api.validate import parse_chat_request
from waystation.errors import InvalidRequest, UnsupportedFeature

USER = [{"role": "user", "content": "hi"}]


def body(**fields: Any) -> bytes:
    data: dict[str, Any] = {"model": "openai/gpt-4o-mini", "messages": USER}
    data.update(fields)
    return orjson.dumps({k: v for k, v in data.items() if v is not ...})


def rejects(raw: bytes, param: str | None, fragment: str = "") -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        parse_chat_request(raw)
    assert info.value.status == 400
    assert info.value.param == param, info.value.message
    assert fragment in info.value.message
    return info.value


def test_a_minimal_request_is_accepted_and_forwarded_as_sent() -> None:
    call = parse_chat_request(body())
    assert call.model == "openai/gpt-4o-mini"
    assert call.stream is False
    assert call.body == {"model": "openai/gpt-4o-mini", "messages": USER}


def test_unset_fields_are_not_added_and_null_stays_null() -> None:
    call = parse_chat_request(body(temperature=None, stream=False))
    assert call.body["temperature"] is None
    assert "top_p" not in call.body


def test_int_valued_floats_from_the_sdk_are_accepted_and_forwarded_as_ints() -> None:
    call = parse_chat_request(body(max_tokens=100.0, n=2.0))
    assert call.body["max_tokens"] == 100 and isinstance(call.body["max_tokens"], int)
    assert call.body["n"] == 2 and isinstance(call.body["n"], int)


def test_fractional_value_for_an_int_field_is_refused() -> None:
    rejects(body(max_tokens=10.5), "max_tokens")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
    ],
)
def test_bodies_that_are_not_json_objects_are_refused(raw: bytes, fragment: str) -> None:
    rejects(raw, None, fragment)


@pytest.mark.parametrize(
    ("fields", "param", "message"),
    [
        ({"retry": 5}, "retry", "expected a JSON object, got a number"),
        ({"timeout": "30s"}, "timeout", "expected a JSON object, got a string"),
        ({"fallbacks": {"model": "openai/x"}}, "fallbacks", "expected an array, got an object"),
        ({"orq": {"retry": []}}, "orq.retry", "expected a JSON object, got an array"),
        ({"tools": [3]}, "tools[0]", "expected a JSON object, got a number"),
        ({"messages": None}, "messages", "expected an array, got null"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_named_in_json_terms(
    fields: dict[str, Any], param: str, message: str
) -> None:
    err = rejects(body(**fields), param, message)
    assert "dictionary" not in err.message and "instance of" not in err.message


def test_unknown_top_level_field_is_named() -> None:
    err = rejects(body(temprature=1), "temprature", "Unrecognized")
    assert "temprature" in err.message


def test_unknown_field_inside_a_message_is_named_with_its_path() -> None:
    rejects(body(messages=[{"role": "user", "content": "x", "colour": "red"}]),
            "messages[0].colour")


def test_missing_messages_and_model() -> None:
    rejects(orjson.dumps({"model": "openai/x"}), "messages", "Missing")
    rejects(orjson.dumps({"messages": USER}), "model")


def test_empty_messages_are_refused() -> None:
    rejects(body(messages=[]), "messages")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.5),
        ("temperature", -0.1),
        ("frequency_penalty", 2.1),
        ("presence_penalty", -2.5),
        ("top_p", 1.5),
        ("n", 0),
        ("top_logprobs", 21),
        ("max_tokens", 0),
    ],
)
def test_ranges_are_enforced(field: str, value: float) -> None:
    extra = {"logprobs": True} if field == "top_logprobs" else {}
    rejects(body(**{field: value}, **extra), field)


def test_range_edges_are_accepted() -> None:
    parse_chat_request(body(temperature=2, frequency_penalty=-2, presence_penalty=2, n=1))
    parse_chat_request(body(logprobs=True, top_logprobs=20))
    parse_chat_request(body(logprobs=True, top_logprobs=0))


def test_top_logprobs_needs_logprobs() -> None:
    rejects(body(top_logprobs=3), "top_logprobs", "logprobs")
    rejects(body(top_logprobs=3, logprobs=False), "top_logprobs")


def test_stop_holds_at_most_four_sequences() -> None:
    parse_chat_request(body(stop=["a", "b", "c", "d"]))
    parse_chat_request(body(stop="END"))
    rejects(body(stop=["a", "b", "c", "d", "e"]), "stop")


def test_metadata_limits() -> None:
    parse_chat_request(body(metadata={f"k{i}": "v" for i in range(16)}))
    rejects(body(metadata={f"k{i}": "v" for i in range(17)}), "metadata", "16")
    rejects(body(metadata={"k" * 65: "v"}), "metadata", "64")
    rejects(body(metadata={"k": "v" * 513}), "metadata.k")
    rejects(body(metadata={"k": 5}), "metadata.k")


def test_thinking_budget_rules() -> None:
    parse_chat_request(body(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048))
    rejects(body(thinking={"type": "enabled", "budget_tokens": 1023}), "thinking.budget_tokens")
    rejects(body(thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=2048),
            "thinking.budget_tokens", "less than max_tokens")
    rejects(body(thinking={"type": "enabled"}), "thinking.budget_tokens", "Missing")
    rejects(body(thinking={"type": "sometimes"}), "thinking")
    parse_chat_request(body(thinking={"type": "disabled"}))
    parse_chat_request(body(thinking={"type": "adaptive"}))


def test_audio_is_required_with_the_audio_modality_and_enums_hold() -> None:
    rejects(body(modalities=["text", "audio"]), "audio", "required")
    voice = {"voice": "alloy", "format": "wav"}
    parse_chat_request(body(modalities=["text", "audio"], audio=voice))
    rejects(body(modalities=["text", "audio"], audio={"voice": "bob", "format": "wav"}),
            "audio.voice")
    rejects(body(audio={"voice": "alloy", "format": "ogg"}), "audio.format")
    rejects(body(modalities=["video"]), "modalities[0]")


def test_names_follow_the_pattern() -> None:
    tool = {"type": "function", "function": {"name": "get weather"}}
    rejects(body(tools=[tool]), "tools[0].function.name")
    rejects(body(messages=[{"role": "user", "content": "x", "name": "a" * 65}]),
            "messages[0].name")
    fmt = {"type": "json_schema", "json_schema": {"name": "bad name!", "schema": {}}}
    rejects(body(response_format=fmt), "response_format.json_schema.name")
    ok = {"type": "json_schema", "json_schema": {"name": "good_name-1", "schema": {},
                                                 "strict": False}}
    parse_chat_request(body(response_format=ok))


def test_every_role_and_content_part_is_accepted() -> None:
    messages = [
        {"role": "system", "content": "s", "name": "sys"},
        {"role": "developer", "content": [{"type": "text", "text": "d"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "look", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA",
                                      "mimeType": "application/pdf", "filename": "a.pdf"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "reasoning", "reasoning": "hmm", "signature": "sig"},
            {"type": "redacted_reasoning", "data": "xx"},
            {"type": "text", "text": "calling"},
        ], "tool_calls": [{"id": "c1", "type": "function",
                           "function": {"name": "f", "arguments": "{}"},
                           "thought_signature": "ts",
                           "extra_content": {"google": {"thought_signature": "ts"}}}]},
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "assistant", "content": None, "refusal": "no"},
    ]
    call = parse_chat_request(body(messages=messages))
    assert call.body["messages"] == messages


def test_bad_roles_and_parts_are_named() -> None:
    rejects(body(messages=[{"role": "robot", "content": "x"}]), "messages[0]")
    rejects(body(messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
            "messages[0].content[0]")
    rejects(body(messages=[{"role": "user", "content": [{"type": "text"}]}]),
            "messages[0].content[0].text", "Missing")
    rejects(body(messages=[{"role": "tool", "content": "x"}]),
            "messages[0].tool_call_id", "Missing")
    rejects(body(messages=[{"role": "assistant"}]), "messages[0]", "assistant")


def test_a_file_part_needs_exactly_one_source() -> None:
    part = {"type": "file", "file": {"file_data": "data:x", "uri": "https://x"}}
    rejects(body(messages=[{"role": "user", "content": [part]}]), "messages[0].content[0].file",
            "exactly one")
    part = {"type": "file", "file": {"filename": "a.pdf"}}
    rejects(body(messages=[{"role": "user", "content": [part]}]), "messages[0].content[0].file")


def test_tools_and_tool_choice_shapes() -> None:
    tool = {"type": "function", "function": {
        "name": "get_weather", "description": "d", "strict": True,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": False}}}
    parse_chat_request(body(tools=[tool], tool_choice="required", parallel_tool_calls=False))
    parse_chat_request(body(tools=[tool], tool_choice={"type": "function",
                                                      "function": {"name": "get_weather"}}))
    rejects(body(tools=[tool], tool_choice="sometimes"), "tool_choice")
    bad = {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}
    rejects(body(tools=[bad]), "tools[0].function.parameters.type")


def test_response_format_is_discriminated() -> None:
    parse_chat_request(body(response_format={"type": "json_object"}))
    rejects(body(response_format={"type": "yaml"}), "response_format")
    rejects(body(response_format={"type": "json_schema"}), "response_format.json_schema",
            "Missing")


def test_stream_options_need_stream() -> None:
    rejects(body(stream_options={"include_usage": True}), "stream_options")
    call = parse_chat_request(body(stream=True, stream_options={"include_usage": True}))
    assert call.stream and call.include_usage


def test_reasoning_effort_enum() -> None:
    parse_chat_request(body(reasoning_effort="minimal"))
    rejects(body(reasoning_effort="extreme"), "reasoning_effort")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"guardrails": [{"id": "orq_pii_detection", "execute_on": "input"}]}, "guardrails"),
    ],
)
def test_features_not_built_are_refused_by_name(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(UnsupportedFeature) as info:
        parse_chat_request(body(**fields))
    assert info.value.param == param
    assert param in info.value.message


def test_a_stored_prompt_reference_is_carried_and_may_supply_model_and_messages() -> None:
    call = parse_chat_request(body(orq={"prompt": {"id": "p1", "version": "latest"}}))
    assert call.prompt_id == "p1" and "orq" not in call.body
    bare = parse_chat_request(body(model=..., messages=[], top_logprobs=2,
                                   orq={"prompt": {"id": "p1", "version": "latest"}}))
    assert bare.prompt_id == "p1" and bare.model == ""  # checked once the prompt is merged
    rejects(body(model=..., messages=[]), "model")


def test_orq_features_are_validated() -> None:
    rejects(body(retry={"count": 9}), "retry.count")
    rejects(body(orq={"retry": {"count": 0}}), "orq.retry.count")
    rejects(body(cache={"type": "semantic"}), "cache.type")
    rejects(body(cache={"type": "exact_match", "ttl": 259201}), "cache.ttl")
    rejects(body(fallback_on_codes=[500, 500]), "fallback_on_codes")
    rejects(body(fallback_on_codes=[399]), "fallback_on_codes[0]")
    rejects(body(orq={"load_balancer": [{"model": "openai/a", "weight": 0}]}),
            "orq.load_balancer[0].weight")
    rejects(body(orq={"prompt": {"id": "p", "version": "v2"}}), "orq.prompt.version")
    rejects(body(orq={"knowledge_bases": [{"knowledge_id": "k", "top_k": 101}]}),
            "orq.knowledge_bases[0].top_k")
    rejects(body(orq={"unknown": 1}), "orq.unknown", "Unrecognized")


def test_the_trace_name_is_taken_from_the_top_level_first() -> None:
    assert parse_chat_request(body(name="top", orq={"name": "inner"})).name == "top"
    assert parse_chat_request(body(orq={"name": "inner"})).name == "inner"
    call = parse_chat_request(body(name="n", metadata={"team": "a"}))
    assert "name" not in call.body and "metadata" not in call.body


def test_routing_settings_are_read_from_the_top_level_or_orq_and_shared() -> None:
    from waystation.api.validate import NO_ROUTING
    from waystation.routing.options import DEFAULT_RETRY_CODES

    assert parse_chat_request(body()).routing is NO_ROUTING
    assert parse_chat_request(body(retry=None, orq={"name": "n"})).routing is NO_ROUTING
    top = parse_chat_request(body(retry={"count": 2, "on_codes": [500, 503]},
                                  fallbacks=[{"model": "openai/gpt-4o"}],
                                  fallback_on_codes=[502], timeout={"call_timeout": 1500}))
    routing = top.routing
    assert (routing.retry.count, routing.retry.on_codes) == (2, frozenset({500, 503}))
    assert (routing.fallbacks, routing.fallback_on_codes) == (("openai/gpt-4o",),
                                                              frozenset({502}))
    assert routing.call_timeout == 1.5
    # the same settings again share one (frozen) instance; other settings get their own
    again = parse_chat_request(body(retry={"count": 2, "on_codes": [500, 503]},
                                    fallbacks=[{"model": "openai/gpt-4o"}],
                                    fallback_on_codes=[502], timeout={"call_timeout": 1500}))
    assert again.routing is routing
    inner = parse_chat_request(body(orq={"retry": {"count": 1}, "load_balancer": [
        {"model": "openai/a", "weight": 0.25}, {"model": "openai/b", "weight": 0.75}]})).routing
    assert inner is not routing
    assert (inner.retry.count, inner.retry.on_codes) == (1, DEFAULT_RETRY_CODES)
    assert inner.balanced == (("openai/a", 0.25), ("openai/b", 0.75))
    both = parse_chat_request(body(retry={"count": 3}, orq={"retry": {"count": 1}})).routing
    assert both.retry.count == 3  # the top level wins


def test_routing_settings_seen_before_skip_their_validation_and_give_the_same_call() -> None:
    """A second request with the same routing JSON takes the options kept from the first;
    the rest of its body is still validated, and every rule still holds."""
    from waystation.api import validate

    settings = {"retry": {"count": 4, "on_codes": [429, 503]},
                "fallbacks": [{"model": "openai/gpt-4.1"}], "timeout": {"call_timeout": 900}}
    first = parse_chat_request(body(**settings))
    key = validate._routing_key(orjson.loads(body(**settings)))
    assert key is not None and validate._SEEN_ROUTING[key] is first.routing
    second = parse_chat_request(body(**settings, temperature=0.5))
    assert second.routing is first.routing
    assert second.body == {"model": "openai/gpt-4o-mini", "messages": USER, "temperature": 0.5}
    # the other fields are validated as ever, and errors name them
    rejects(body(**settings, temperature=7), "temperature")
    rejects(body(**settings, messages=[]), "messages", "at least one")
    # a setting that did not validate is never kept, and fails every time
    for _ in range(2):
        rejects(body(retry={"count": 9}), "retry.count")
    assert validate._routing_key(orjson.loads(body(retry={"count": 9}))) not in \
        validate._SEEN_ROUTING


def test_a_load_balancer_seen_before_still_stands_in_for_the_model() -> None:
    balancer = [{"model": "openai/a", "weight": 0.5}, {"model": "openai/b", "weight": 0.5}]
    for _ in range(2):
        call = parse_chat_request(body(model=..., load_balancer=balancer))
        assert call.routing.balanced == (("openai/a", 0.5), ("openai/b", 0.5))
    rejects(body(model=...), "model", "required")


def test_routing_settings_with_an_orq_object_are_merged_not_kept() -> None:
    from waystation.api import validate

    raw = body(retry={"count": 2}, orq={"fallbacks": [{"model": "openai/gpt-4o"}]})
    assert validate._routing_key(orjson.loads(raw)) is None
    for _ in range(2):
        routing = parse_chat_request(raw).routing
        assert (routing.retry.count, routing.fallbacks) == (2, ("openai/gpt-4o",))


def test_the_kept_routing_settings_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from waystation.api import validate

    monkeypatch.setattr(validate, "_SEEN_ROUTING", {})
    monkeypatch.setattr(validate, "_SEEN_ROUTING_LIMIT", 3)
    for count in range(1, 6):
        assert parse_chat_request(body(retry={"count": count})).routing.retry.count == count
    assert len(validate._SEEN_ROUTING) == 3
    assert parse_chat_request(body(retry={"count": 5})).routing.retry.count == 5
