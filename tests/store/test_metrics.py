"""Prometheus metrics fed from recorded traces, in the text exposition format."""

from __future__ import annotations

import pytest

from tests.store import sample
from waystation.observe.metrics import GatewayMetrics
from waystation.observe.pricing import PriceTable
from waystation.observe.recorder import TraceWriter
from waystation.observe.trace import Attempt


class NoSink:
    async def write(self, items: object) -> None:
        return None


def test_requests_tokens_cost_latency_and_ttft_by_provider_and_model() -> None:
    metrics = GatewayMetrics()
    writer = TraceWriter(NoSink(), metrics=metrics, prices=PriceTable.load())
    writer.record(sample.trace(prompt=1000, completion=200, ttft_ms=150.0, stream=True,
                               usage={"prompt_tokens": 1000, "completion_tokens": 200,
                                      "prompt_tokens_details": {"cached_tokens": 600},
                                      "completion_tokens_details": {"reasoning_tokens": 50}}))
    writer.record(sample.trace(status=502))
    writer.record(sample.trace(model="acme/mystery"))
    get = metrics.registry.get_sample_value
    model = {"provider": "openai", "model": "gpt-4o-mini"}
    assert get("waystation_requests_total", {**model, "status": "200"}) == 1
    assert get("waystation_requests_total", {"provider": "unknown", "model": "unknown",
                                             "status": "502"}) is None
    assert get("waystation_requests_total", {**model, "status": "502"}) == 1
    assert get("waystation_tokens_total", {**model, "kind": "input"}) == 1000
    assert get("waystation_tokens_total", {**model, "kind": "cached_input"}) == 600
    assert get("waystation_tokens_total", {**model, "kind": "reasoning"}) == 50
    expected = (400 * 0.15 + 600 * 0.075 + 200 * 0.6) / 1e6
    assert get("waystation_cost_usd_total", model) == pytest.approx(expected)
    assert get("waystation_request_duration_seconds_count", model) == 2
    assert get("waystation_time_to_first_token_seconds_count", model) == 1
    assert get("waystation_time_to_first_token_seconds_sum", model) == pytest.approx(0.15)
    assert get("waystation_unpriced_requests_total",
               {"provider": "acme", "model": "mystery"}) == 1
    text = metrics.render().decode()
    assert '# TYPE waystation_requests_total counter' in text
    assert 'waystation_requests_total{model="gpt-4o-mini",provider="openai",status="200"} 1.0' \
        in text
    assert 'waystation_request_duration_seconds_bucket{le="0.25",model="gpt-4o-mini",' \
        'provider="openai"} 2.0' in text


def test_upstream_errors_retries_and_fallbacks_come_from_the_attempts() -> None:
    metrics = GatewayMetrics()
    attempts = [
        Attempt("openai/gpt-4o", 429, 5.0, "rate limited", "upstream_rate_limited"),
        Attempt("openai/gpt-4o", 503, 5.0, "unavailable", "upstream_unavailable"),
        Attempt("anthropic/claude-haiku-4-5", 200, 50.0),
    ]
    metrics.observe(sample.trace(model="anthropic/claude-haiku-4-5", attempts=attempts), None)
    get = metrics.registry.get_sample_value
    gpt = {"provider": "openai", "model": "gpt-4o"}
    haiku = {"provider": "anthropic", "model": "claude-haiku-4-5"}
    assert get("waystation_upstream_errors_total", {**gpt, "status": "429"}) == 1
    assert get("waystation_upstream_errors_total", {**gpt, "status": "503"}) == 1
    assert get("waystation_retries_total", gpt) == 1
    assert get("waystation_fallbacks_total", haiku) == 1
    assert get("waystation_upstream_errors_total", {**haiku, "status": "200"}) is None


def test_cache_hits_and_lookups() -> None:
    metrics = GatewayMetrics()
    metrics.observe(sample.trace(cache_hit=True), None)
    metrics.observe(sample.trace(cache_hit=False), None)
    metrics.observe(sample.trace(), None)  # the cache was not asked
    get = metrics.registry.get_sample_value
    assert get("waystation_cache_lookups_total", {"result": "hit"}) == 1
    assert get("waystation_cache_lookups_total", {"result": "miss"}) == 1
    assert get("waystation_cache_hits_total", {"provider": "openai", "model": "gpt-4o-mini"}) == 1


def test_caller_chosen_model_names_cannot_grow_the_series_without_bound() -> None:
    metrics = GatewayMetrics(max_models=3)
    for i in range(10):
        metrics.observe(sample.trace(model=f"acme/model-{i}"), None)
    get = metrics.registry.get_sample_value
    assert get("waystation_requests_total",
               {"provider": "other", "model": "other", "status": "200"}) == 7
    assert get("waystation_requests_total",
               {"provider": "acme", "model": "model-9", "status": "200"}) is None


def test_each_app_has_its_own_registry() -> None:
    one, two = GatewayMetrics(), GatewayMetrics()
    one.observe(sample.trace(), None)
    assert two.registry.get_sample_value(
        "waystation_requests_total",
        {"provider": "openai", "model": "gpt-4o-mini", "status": "200"}) is None


def test_the_queue_depth_gauge_follows_the_writer() -> None:
    metrics = GatewayMetrics()
    writer = TraceWriter(NoSink(), metrics=metrics)
    for _ in range(4):
        writer.record(sample.trace())
    assert metrics.registry.get_sample_value("waystation_trace_queue_depth") == 4
