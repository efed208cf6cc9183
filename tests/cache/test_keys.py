"""The key covers what changes the answer, ignores what does not, and isolates tenants."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from waystation.cache.keys import EXCLUDED_FIELDS, cache_key, canonical_json

MODELS = ["openai/gpt-4o-mini"]


def body(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
        ],
        "temperature": 0.2,
    }
    out.update(extra)
    return out


def test_the_key_is_a_sha256_hex_digest() -> None:
    key = cache_key("key_1", MODELS, body())
    assert len(key) == 64 and int(key, 16) >= 0


def test_key_order_does_not_matter_at_any_depth() -> None:
    a = body(response_format={"type": "json_schema",
                              "json_schema": {"name": "x", "schema": {"type": "object"}}})
    b = {k: a[k] for k in reversed(list(a))}
    b["messages"] = [{k: m[k] for k in reversed(list(m))} for m in a["messages"]]
    b["response_format"] = {"json_schema": {"schema": {"type": "object"}, "name": "x"},
                            "type": "json_schema"}
    assert cache_key("t", MODELS, a) == cache_key("t", MODELS, b)


def test_int_valued_floats_equal_ints_everywhere() -> None:
    a = body(n=1, max_tokens=100, seed=7, temperature=1,
             tools=[{"type": "function", "function": {"name": "f", "parameters": {
                 "type": "object", "properties": {"x": {"type": "integer", "minimum": 0}}}}}])
    b = body(n=1.0, max_tokens=100.0, seed=7.0, temperature=1.0,
             tools=[{"type": "function", "function": {"name": "f", "parameters": {
                 "type": "object", "properties": {"x": {"type": "integer", "minimum": 0.0}}}}}])
    assert cache_key("t", MODELS, a) == cache_key("t", MODELS, b)


def test_canonical_json_has_no_whitespace_and_sorted_keys() -> None:
    assert canonical_json({"b": 1.0, "a": [2.5, -0.0, True]}) == b'{"a":[2.5,0,true],"b":1}'


def test_orjson_writes_every_int_valued_float_below_2_53_with_a_point_zero() -> None:
    """`canonical_json` skips the walk when a dump has no ".0"; this is what makes it safe."""
    samples = [0.0, -0.0, 1.0, -7.0, 100.0, 1e15, 123456789012345.0, 2.0**52, 2.0**53 - 1]
    samples += [float(10**k) for k in range(16)] + [float(-(2**k)) for k in range(53)]
    for value in samples:
        assert orjson.dumps(value).endswith(b".0"), value


def test_the_fast_path_and_the_walk_agree() -> None:
    plain = {"b": [1, "x.0y"], "a": {"d": 0.5, "c": True}}
    assert canonical_json(plain) == orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    assert canonical_json({**plain, "e": 3.0}) == canonical_json({**plain, "e": 3})
    assert cache_key("t", MODELS, body(stop="1.0")) != cache_key("t", MODELS, body(stop="1"))


def test_booleans_are_not_mistaken_for_numbers() -> None:
    assert cache_key("t", MODELS, body(logprobs=True)) != cache_key("t", MODELS, body(logprobs=1))


def test_huge_floats_stay_floats_and_still_hash() -> None:
    assert cache_key("t", MODELS, body(seed=1e300)) != cache_key("t", MODELS, body(seed=1e299))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", True),
        ("stream_options", {"include_usage": True}),
        ("metadata", {"team": "search"}),
        ("name", "trace name"),
        ("user", "end-user-42"),
        ("safety_identifier", "hash-of-user"),
        ("prompt_cache_key", "shared-prefix"),
        ("orq", {"thread": {"id": "th_1"}, "identity": {"id": "c_1"}, "retry": {"count": 2}}),
        ("retry", {"count": 3, "on_codes": [429]}),
        ("timeout", {"call_timeout": 30000}),
        ("fallbacks", [{"model": "anthropic/claude-haiku-4-5"}]),
        ("fallback_on_codes", [500]),
        ("load_balancer", {"type": "weight_based", "models": [{"model": "a/b", "weight": 1}]}),
        ("cache", {"type": "exact_match", "ttl": 3600}),
        ("variables", {"name": "Ada"}),
        ("model", "openai/another-model"),
    ],
)
def test_fields_that_do_not_change_the_answer_are_not_in_the_key(field: str, value: Any) -> None:
    assert field in EXCLUDED_FIELDS
    assert cache_key("t", MODELS, body(**{field: value})) == cache_key("t", MODELS, body())


VARIANTS: list[tuple[str, Any]] = [
    ("temperature", 0.3),
    ("top_p", 0.9),
    ("top_k", 40),
    ("max_tokens", 10),
    ("max_completion_tokens", 10),
    ("n", 2),
    ("seed", 1),
    ("stop", ["\n"]),
    ("presence_penalty", 0.5),
    ("frequency_penalty", 0.5),
    ("logprobs", True),
    ("top_logprobs", 2),
    ("logit_bias", {"50256": -100}),
    ("response_format", {"type": "json_object"}),
    ("reasoning_effort", "low"),
    ("verbosity", "low"),
    ("thinking", {"type": "enabled", "budget_tokens": 1024}),
    ("tools", [{"type": "function", "function": {"name": "f"}}]),
    ("tool_choice", "required"),
    ("parallel_tool_calls", False),
    ("modalities", ["text"]),
    ("audio", {"voice": "alloy", "format": "wav"}),
    ("service_tier", "flex"),
    ("guardrails", [{"id": "orq_pii_detection", "execute_on": "output"}]),
    ("some_future_parameter", 1),
]


def test_every_generation_parameter_changes_the_key() -> None:
    keys = {"base": cache_key("t", MODELS, body())}
    for field, value in VARIANTS:
        keys[field] = cache_key("t", MODELS, body(**{field: value}))
    assert len(set(keys.values())) == len(keys), "two variants share a key"


def test_messages_change_the_key_exactly_case_and_space_included() -> None:
    base = body()
    variants = []
    for text in ("hello", "Hello ", "Hello!", "Hello"):
        b = copy.deepcopy(base)
        b["messages"][1]["content"][0]["text"] = text
        variants.append(cache_key("t", MODELS, b))
    as_string = copy.deepcopy(base)
    as_string["messages"][1]["content"] = "Hello"  # same text, other shape: another request
    variants.append(cache_key("t", MODELS, as_string))
    as_developer = copy.deepcopy(base)
    as_developer["messages"][0]["role"] = "developer"
    variants.append(cache_key("t", MODELS, as_developer))
    assert variants[3] == cache_key("t", MODELS, base)
    assert len(set(variants)) == len(variants)


def test_the_resolved_models_change_the_key_order_included() -> None:
    keys = {
        cache_key("t", ["openai/gpt-4o-mini"], body()),
        cache_key("t", ["openai/gpt-4o"], body()),
        cache_key("t", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"], body()),
        cache_key("t", ["anthropic/claude-haiku-4-5", "openai/gpt-4o-mini"], body()),
    }
    assert len(keys) == 4


def test_tenants_never_share_a_key() -> None:
    assert cache_key("key_a", MODELS, body()) != cache_key("key_b", MODELS, body())


def test_tenant_and_models_cannot_be_confused_by_concatenation() -> None:
    assert cache_key("ab", ["c"], body()) != cache_key("a", ["bc"], body())


def test_the_body_is_not_modified() -> None:
    b = body(stream=True, metadata={"a": "b"}, n=1.0)
    before = copy.deepcopy(b)
    cache_key("t", MODELS, b)
    assert b == before


def test_a_tenant_and_a_model_are_required() -> None:
    with pytest.raises(ValueError, match="tenant"):
        cache_key("", MODELS, body())
    with pytest.raises(ValueError, match="model"):
        cache_key("t", [], body())
