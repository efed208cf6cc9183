"""The value encoders of stored traces: the fast paths give what the general ones gave."""

from __future__ import annotations

import datetime
import decimal
import math
import random

import orjson
import pytest

from waystation.observe.pricing import Cost, round_money, round_to
from waystation.store.trace_rows import _SECRET_KEYS, REDACTED, clip, encode, encode_scrubbed


def test_plain_json_is_encoded_compactly() -> None:
    value = {"a": [1, 2.5, None, True], "b": {"c": "d\u00e9"}}
    assert encode(value) == '{"a":[1,2.5,null,true],"b":{"c":"d\u00e9"}}'
    assert encode(None) is None


def test_values_json_has_no_form_for_are_written_as_text() -> None:
    value = {1: decimal.Decimal("1.50"), "when": datetime.date(2026, 1, 2), "set": {"x"}}
    assert orjson.loads(encode(value) or "") == {"1": "1.50", "when": "2026-01-02",
                                                 "set": "{'x'}"}


def test_clip_keeps_short_text_and_cuts_long_text_and_nul() -> None:
    text = "model-name"
    assert clip(text, 64) is text
    assert clip("a\x00b", 64) == "ab"
    assert clip("x" * 300, 255) == "x" * 255
    assert clip(42, 10) == "42"
    assert clip(None, 10) is None


def test_money_is_rounded_to_ten_decimals_as_round_does() -> None:
    for value in (0.0, 3.6e-06, 0.1 + 0.2, 1.23456789012345e-05, 12.5, -0.0):
        assert round_money(value) == round(value, 10)
    cost = Cost(input=0.1, cached_input=0.0, cache_write=0.0, output=0.2, reasoning=0.0)
    assert cost.as_dict() == {"input": 0.1, "cached_input": 0.0, "cache_write": 0.0,
                              "output": 0.2, "reasoning": 0.0, "total": 0.3,
                              "currency": "USD"}


def test_scaled_rounding_agrees_with_round_but_next_to_a_half() -> None:
    rng = random.Random(11)
    for _ in range(20_000):
        value = rng.random() * 10 ** rng.randint(-8, 4) * rng.choice((1, -1))
        for digits in (2, 10):
            scaled = abs(value) * 10 ** digits
            next_to_a_half = abs(scaled - math.floor(scaled) - 0.5) < 1e-6
            assert round_to(value, 10.0 ** digits) == round(value, digits) or next_to_a_half
    assert round_to(2.675, 100) == 2.68  # half away from zero, where round() says 2.67


@pytest.mark.parametrize("value", [math.inf, -math.inf, 1e300])
def test_rounding_leaves_what_it_cannot_scale(value: float) -> None:
    assert round_to(value, 1e10) == value and round_money(value) == value
    assert math.isnan(round_to(math.nan, 100)) and math.isnan(round_money(math.nan))


@pytest.mark.parametrize("key", sorted(_SECRET_KEYS))
def test_every_secret_key_is_scrubbed_in_any_case_and_at_any_depth(key: str) -> None:
    for name in (key, key.upper(), key.title()):
        body = {"model": "m", "max_tokens": 3, "nested": [{name: "s3cret"}]}
        text = encode_scrubbed(orjson.dumps(body)) or ""
        assert "s3cret" not in text and REDACTED in text
        assert encode_scrubbed(body) == text


def test_a_body_without_secret_keys_is_stored_as_sent() -> None:
    raw = b'{"model":"m","max_tokens":3,"messages":[{"content":"my key: 1, token: 2"}]}'
    assert encode_scrubbed(raw) == raw.decode()


def test_a_response_sent_whole_is_stored_as_it_was_sent() -> None:
    from tests.store import sample
    from waystation.store.trace_rows import TRACE_COLUMNS, RecordedTrace, build_rows

    at = TRACE_COLUMNS.index("response")
    sent = sample.trace()
    sent.response_json = b'{"id":"chatcmpl-1","object":"chat.completion"}'
    encoded = sample.trace()  # a stream's response, rebuilt from its chunks: encoded here
    rows = build_rows([RecordedTrace(sent), RecordedTrace(encoded)], log_bodies=True).traces
    assert rows[0][at] == '{"id":"chatcmpl-1","object":"chat.completion"}'
    assert rows[1][at] == encode(encoded.response)


def test_a_compacted_trace_is_stored_as_the_same_row() -> None:
    """`Trace.compact` keeps the bodies as JSON only; the row stored from it is the same, and a
    secret in the request is still scrubbed from the JSON form."""
    import copy

    from tests.store import sample
    from waystation.observe.pricing import TokenCounts
    from waystation.store.trace_rows import TRACE_COLUMNS, RecordedTrace, build_rows

    request = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}],
               "metadata": {"Api_Key": "sk-live-1"}}
    whole = sample.trace(request=request, response_json=b'{"id":"chatcmpl-1"}')
    compacted = copy.deepcopy(whole)
    compacted.compact()
    assert (compacted.request, compacted.response, compacted.usage) == (None, None, None)
    assert orjson.loads(compacted.request_json or b"") == request
    tokens = TokenCounts.of(whole.usage)
    items = [RecordedTrace(whole, tokens=tokens), RecordedTrace(compacted, tokens=tokens)]
    rows = build_rows(items, log_bodies=True).traces
    at = {name: i for i, name in enumerate(TRACE_COLUMNS)}
    for name in ("request", "response", "usage", "prompt_tokens", "total_tokens"):
        assert rows[0][at[name]] == rows[1][at[name]], name
    assert "sk-live-1" not in rows[1][at["request"]] and "[redacted]" in rows[1][at["request"]]


def test_a_body_json_cannot_encode_is_left_for_the_writer() -> None:
    from tests.store import sample

    odd = sample.trace(request={"price": decimal.Decimal("1.50")})
    odd.compact()
    assert odd.request == {"price": decimal.Decimal("1.50")} and odd.request_json is None


def test_attempts_are_stored_unrounded_and_read_rounded() -> None:
    from types import SimpleNamespace

    from tests.store import sample
    from waystation.observe.trace import Attempt
    from waystation.store.trace_rows import TRACE_COLUMNS, RecordedTrace, build_rows
    from waystation.store.traces import render

    trace = sample.trace(attempts=[Attempt("openai/gpt-4o", 503, 12.34567, "down", "x"),
                                   Attempt("openai/gpt-4o-mini", 200, 1.005)])
    row = build_rows([RecordedTrace(trace)], log_bodies=True).traces[0]
    stored = row[TRACE_COLUMNS.index("attempts")]
    assert orjson.loads(stored) == [
        {"model": "openai/gpt-4o", "status": 503, "duration_ms": 12.34567, "error": "down",
         "code": "x"},
        {"model": "openai/gpt-4o-mini", "status": 200, "duration_ms": 1.005, "error": None,
         "code": None}]
    shown = render(SimpleNamespace(**dict(zip(TRACE_COLUMNS, row, strict=True))))
    assert shown["attempts"] == [a.as_dict() for a in trace.attempts]
    assert [a["duration_ms"] for a in shown["attempts"]] == [12.35, 1.0]


def test_cost_parts_are_stored_unrounded_and_read_rounded() -> None:
    from types import SimpleNamespace

    from tests.store import sample
    from waystation.store.trace_rows import TRACE_COLUMNS, RecordedTrace, build_rows
    from waystation.store.traces import render

    cost = Cost(1.23456789012345e-05, 0.0, 2e-07, 3.000000000049e-05, 0.0)
    row = build_rows([RecordedTrace(sample.trace(), cost)], log_bodies=True).traces[0]
    stored = orjson.loads(row[TRACE_COLUMNS.index("cost_details")])
    assert stored["input"] == cost.input and stored["total"] == cost.total
    assert row[TRACE_COLUMNS.index("cost")] == round_money(cost.total)
    shown = render(SimpleNamespace(**dict(zip(TRACE_COLUMNS, row, strict=True))))
    assert shown["cost_details"] == cost.as_dict()
    assert list(shown["cost_details"]) == ["input", "cached_input", "cache_write", "output",
                                           "reasoning", "total", "currency"]
    assert shown["cost"] == round(cost.total, 10)


def test_an_attempt_field_json_has_no_form_for_is_written_as_text() -> None:
    from tests.store import sample
    from waystation.observe.trace import Attempt
    from waystation.store.trace_rows import TRACE_COLUMNS, RecordedTrace, build_rows

    odd = Attempt("openai/gpt-4o", 500, 2.0, decimal.Decimal("1.5"))  # type: ignore[arg-type]
    row = build_rows([RecordedTrace(sample.trace(attempts=[odd]))], log_bodies=True).traces[0]
    assert orjson.loads(row[TRACE_COLUMNS.index("attempts")])[0]["error"] == "1.5"


def test_traces_of_one_batch_on_two_days_each_have_their_own_day() -> None:
    from tests.store import sample
    from waystation.store.trace_rows import TRACE_COLUMNS, RecordedTrace, build_rows

    midnight = 1_765_065_600.0  # 2025-12-07T00:00:00Z
    traces = [sample.trace(at=midnight - 0.001), sample.trace(at=midnight),
              sample.trace(at=midnight - 1.0)]
    rows = build_rows([RecordedTrace(t) for t in traces], log_bodies=True).traces
    assert [r[TRACE_COLUMNS.index("day")] for r in rows] == [
        "2025-12-06", "2025-12-07", "2025-12-06"]
