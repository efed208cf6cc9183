"""Retry and fallback decisions, and backoff: pure functions of an error and the options."""

from __future__ import annotations

import random

from waystation.errors import (
    ProviderNotConfigured,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from waystation.routing.options import NEVER_RETRIED, RetryPolicy

BASE_DELAY = 1.0
JITTER = 0.25


def decision_status(err: UpstreamError) -> int:
    """The status an attempt stands for: what the provider said, 408 for an expired attempt,
    502 for a connection that failed."""
    if err.upstream_status is not None:
        return err.upstream_status
    if isinstance(err, UpstreamTimeout):
        return 408
    if isinstance(err, UpstreamConnectionError):
        return 502
    return err.status


def should_retry(err: UpstreamError, policy: RetryPolicy) -> bool:
    if isinstance(err, ProviderNotConfigured):
        return False
    status = decision_status(err)
    if status in NEVER_RETRIED:
        return False
    if isinstance(err, UpstreamTimeout | UpstreamConnectionError) and err.upstream_status is None:
        return True
    return status in policy.on_codes


def should_fall_back(err: UpstreamError, codes: frozenset[int]) -> bool:
    return decision_status(err) in codes


def backoff_seconds(retry_index: int, rng: random.Random, retry_after: float | None) -> float:
    """1 s, 2 s, 4 s, … with ±25 % jitter; the provider's own Retry-After wins when it gave one."""
    if retry_after is not None:
        return max(0.0, retry_after)
    base = BASE_DELAY * (2**retry_index)
    return base * (1 + rng.uniform(-JITTER, JITTER))


def telling_rank(err: UpstreamError) -> int:
    """How much an error says about why a request failed; the caller sees the most telling."""
    if isinstance(err, UpstreamRejected):
        return 5
    if isinstance(err, UpstreamRateLimited):
        return 4
    if isinstance(err, ProviderNotConfigured):
        return 0
    if isinstance(err, UpstreamTimeout):
        return 2
    if isinstance(err, UpstreamConnectionError):
        return 1
    return 3
