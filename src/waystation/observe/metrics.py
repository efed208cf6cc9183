"""Prometheus metrics, fed from each trace as it is recorded.

One `CollectorRegistry` per app (no process globals, so two apps in one process, as in tests,
never share counters). `observe()` runs on the hot path inside `record()`, so it only bumps
counters: label children are cached per (provider, model), and the number of distinct models
is bounded, because model names come from callers and every new name would be a new series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from waystation.observe.pricing import Cost, TokenCounts
from waystation.observe.trace import Trace

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
_TTFT_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)


def split_model(model: str | None) -> tuple[str, str]:
    """`provider/model` → (provider, model); anything else is ("unknown", model)."""
    if not model:
        return "unknown", "unknown"
    provider, sep, name = model.partition("/")
    return (provider, name) if sep and name else ("unknown", model)


@dataclass(slots=True)
class _Series:
    """The label children of one (provider, model), bound once."""

    latency: Any
    ttft: Any
    tokens_in: Any
    tokens_out: Any
    tokens_cached: Any
    tokens_reasoning: Any
    cost: Any
    cache_hits: Any
    unpriced: Any


class GatewayMetrics:
    def __init__(self, *, max_models: int = 500) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        by_model = ["provider", "model"]
        self.requests = Counter("waystation_requests", "Chat requests answered, by status",
                                [*by_model, "status"], registry=r)
        self.latency = Histogram("waystation_request_duration_seconds",
                                 "Time from request to the last byte of the answer", by_model,
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("waystation_time_to_first_token_seconds",
                              "Time from request to the first streamed byte", by_model,
                              buckets=_TTFT_BUCKETS, registry=r)
        self.tokens = Counter("waystation_tokens", "Tokens by kind (input includes cached)",
                              [*by_model, "kind"], registry=r)
        self.cost = Counter("waystation_cost_usd", "Cost in US dollars from the price table",
                            by_model, registry=r)
        self.unpriced = Counter("waystation_unpriced_requests",
                                "Requests with usage but no known price", by_model, registry=r)
        self.cache_hits = Counter("waystation_cache_hits", "Answers served from the cache",
                                  by_model, registry=r)
        self.cache_lookups = Counter("waystation_cache_lookups", "Cache lookups by result",
                                     ["result"], registry=r)
        self.upstream_errors = Counter("waystation_upstream_errors",
                                       "Failed attempts at a provider, by the status they stand "
                                       "for", [*by_model, "status"], registry=r)
        self.retries = Counter("waystation_retries", "Attempts that retried the same model",
                               by_model, registry=r)
        self.fallbacks = Counter("waystation_fallbacks", "Attempts that fell back to this model",
                                 by_model, registry=r)
        self.traces_written = Counter("waystation_traces_written", "Traces stored", registry=r)
        self.traces_dropped = Counter("waystation_traces_dropped",
                                      "Traces dropped because the buffer was full", registry=r)
        self.traces_rejected = Counter("waystation_traces_rejected",
                                       "Traces the database refused (bad data)", registry=r)
        self.trace_write_failures = Counter("waystation_trace_write_failures",
                                            "Failed batch writes (retried)", registry=r)
        self.trace_queue = Gauge("waystation_trace_queue_depth", "Traces waiting to be written",
                                 registry=r)
        self._series: dict[tuple[str, str], _Series] = {}
        self._by_status: dict[tuple[str, str, int], Any] = {}
        self._max_models = max_models

    def watch_queue(self, depth: Callable[[], float]) -> None:
        self.trace_queue.set_function(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def _labels(self, model: str | None) -> tuple[str, str]:
        labels = split_model(model)
        if labels not in self._series and len(self._series) >= self._max_models:
            return OTHER, OTHER
        return labels

    def _bound(self, labels: tuple[str, str]) -> _Series:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = _Series(
                latency=self.latency.labels(*labels),
                ttft=self.ttft.labels(*labels),
                tokens_in=self.tokens.labels(*labels, "input"),
                tokens_out=self.tokens.labels(*labels, "output"),
                tokens_cached=self.tokens.labels(*labels, "cached_input"),
                tokens_reasoning=self.tokens.labels(*labels, "reasoning"),
                cost=self.cost.labels(*labels),
                cache_hits=self.cache_hits.labels(*labels),
                unpriced=self.unpriced.labels(*labels),
            )
        return series

    def observe(self, trace: Trace, cost: Cost | None, tokens: TokenCounts | None = None) -> None:
        """Count one finished request (cheap: a few dictionary lookups and additions)."""
        labels = self._labels(trace.model or trace.requested_model)
        series = self._bound(labels)
        key = (*labels, trace.status or 0)
        requests = self._by_status.get(key)
        if requests is None:
            requests = self._by_status[key] = self.requests.labels(*labels, str(key[2]))
        requests.inc()
        if trace.latency_ms is not None:
            series.latency.observe(trace.latency_ms / 1000)
        if trace.ttft_ms is not None:
            series.ttft.observe(trace.ttft_ms / 1000)
        if trace.usage:
            tokens = tokens or TokenCounts.of(trace.usage)
            series.tokens_in.inc(tokens.prompt)
            series.tokens_out.inc(tokens.completion)
            if tokens.cached:
                series.tokens_cached.inc(tokens.cached)
            if tokens.reasoning:
                series.tokens_reasoning.inc(tokens.reasoning)
            if cost is None:
                series.unpriced.inc()
        if cost is not None:
            series.cost.inc(cost.total)
        if trace.cache_hit is not None:
            self.cache_lookups.labels("hit" if trace.cache_hit else "miss").inc()
            if trace.cache_hit:
                series.cache_hits.inc()
        attempts = trace.attempts
        if len(attempts) > 1 or (attempts and attempts[0].error is not None):
            self._attempts(trace)

    def _attempts(self, trace: Trace) -> None:
        previous: str | None = None
        for attempt in trace.attempts:
            labels = self._labels(attempt.model)
            if attempt.error is not None or (attempt.status or 0) >= 400:
                self.upstream_errors.labels(*labels, str(attempt.status or "none")).inc()
            if previous is not None:
                (self.retries if attempt.model == previous else self.fallbacks).labels(
                    *labels).inc()
            previous = attempt.model
