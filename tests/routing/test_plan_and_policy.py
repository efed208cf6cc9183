"""Plans and retry/fallback decisions are pure: checked with a seeded random source."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from waystation.errors import (
    ProviderNotConfigured,
    UpstreamConnectionError,
    UpstreamRejected,
    UpstreamTimeout,
)
from waystation.providers.upstream_status import error_for_status
from waystation.routing.options import RetryPolicy, RoutingOptions
from waystation.routing.plan import plan_models, weighted_choice
from waystation.routing.policy import (
    backoff_seconds,
    decision_status,
    should_fall_back,
    should_retry,
)

NONE_COOLED = lambda m: False  # noqa: E731


def upstream(status: int, **headers: str):  # type: ignore[no-untyped-def]
    return error_for_status(status, "x", provider="p", headers=headers)


def test_weights_are_normalised_and_respected() -> None:
    rng = random.Random(1234)
    picks = Counter(weighted_choice([("a", 0.4), ("b", 0.8)], rng, NONE_COOLED)
                    for _ in range(30_000))
    assert picks["a"] / 30_000 == pytest.approx(1 / 3, abs=0.015)
    assert picks["b"] / 30_000 == pytest.approx(2 / 3, abs=0.015)


def test_cooled_models_are_skipped_by_the_balancer_unless_all_are() -> None:
    rng = random.Random(7)
    assert {weighted_choice([("a", 0.9), ("b", 0.1)], rng, lambda m: m == "a")
            for _ in range(200)} == {"b"}
    assert {weighted_choice([("a", 0.5), ("b", 0.5)], rng, lambda m: True)
            for _ in range(200)} == {"a", "b"}


def test_plan_puts_fallbacks_after_the_chosen_model_and_cooled_ones_last() -> None:
    options = RoutingOptions(fallbacks=("f1", "f2", "f3"))
    assert plan_models("m", options, random.Random(0), NONE_COOLED) == ["m", "f1", "f2", "f3"]
    cooled = {"f1", "m"}
    plan = plan_models("m", options, random.Random(0), lambda x: x in cooled)
    assert plan == ["f2", "f3", "m", "f1"]


def test_a_load_balancer_replaces_the_model_and_fallbacks_still_follow() -> None:
    options = RoutingOptions(balanced=(("a", 1.0),), fallbacks=("f",))
    assert plan_models("ignored", options, random.Random(0), NONE_COOLED) == ["a", "f"]


def test_retry_decisions() -> None:
    policy = RetryPolicy(count=2, on_codes=frozenset({429, 503}))
    assert should_retry(upstream(429), policy)
    assert should_retry(upstream(503), policy)
    assert not should_retry(upstream(500), policy)
    assert should_retry(UpstreamConnectionError("reset", provider="p"), policy)
    assert should_retry(UpstreamTimeout("slow", provider="p"), policy)
    assert not should_retry(ProviderNotConfigured("no key", provider="p"), policy)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_the_callers_own_errors_are_never_retried(status: int) -> None:
    policy = RetryPolicy(count=5, on_codes=frozenset({400, 401, 403, 404, 422, 429}))
    assert not should_retry(upstream(status), policy)


def test_fallback_decisions_use_the_providers_status() -> None:
    codes = frozenset({408, 429, 500, 502, 503, 504, 529})
    assert should_fall_back(upstream(500), codes)
    assert should_fall_back(upstream(529), codes)
    assert not should_fall_back(upstream(400), codes)
    assert should_fall_back(UpstreamTimeout("slow", provider="p"), codes)
    assert decision_status(UpstreamTimeout("slow", provider="p")) == 408
    assert decision_status(UpstreamConnectionError("x", provider="p")) == 502
    assert isinstance(upstream(400), UpstreamRejected)


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(3)
    for n, base in enumerate([1.0, 2.0, 4.0, 8.0, 16.0]):
        for _ in range(50):
            assert base * 0.75 <= backoff_seconds(n, rng, None) <= base * 1.25
    assert backoff_seconds(0, rng, 7.5) == 7.5
    assert upstream(429, **{"retry-after-ms": "250"}).retry_after == 0.25
