"""Pricing and metrics for a finished trace: what every recorder does before (or instead of)
storing it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from waystation.observe.metrics import GatewayMetrics
from waystation.observe.pricing import FREE, Cost, PriceTable, TokenCounts
from waystation.observe.trace import Trace

log = logging.getLogger("waystation.traces")


def price_and_count(
    trace: Trace, prices: PriceTable | None, metrics: GatewayMetrics | None,
    warn: Callable[[str], object] = log.warning,
) -> tuple[Cost | None, TokenCounts | None]:
    """The trace's cost (None when unknown) and token counts, counted in the metrics. Never
    raises: a pricing or metrics bug must not fail the request it describes (it is told to
    `warn`, and whatever was read before it is returned)."""
    cost = tokens = None
    try:
        tokens = TokenCounts.of(trace.usage)
        if prices is not None:
            if trace.cache_hit:
                cost = FREE
            elif trace.usage:
                cost = prices.cost_of(trace.model or trace.requested_model, tokens)
        if metrics is not None:
            metrics.observe(trace, cost, tokens)
    except Exception as error:
        warn(f"cannot price or count trace {trace.id}: {error!r}")
    return cost, tokens


class CountingRecorder:
    """The recorder when trace storage is turned off (`WAYSTATION_TRACES=false`): `/metrics`
    still counts requests, tokens and cost; nothing is written."""

    def __init__(self, prices: PriceTable | None, metrics: GatewayMetrics | None) -> None:
        self._prices = prices
        self._metrics = metrics

    def record(self, trace: Trace) -> None:
        price_and_count(trace, self._prices, self._metrics)
