"""Which requests ask for the cache, and the ttl their answers get."""

from __future__ import annotations

from waystation.cache.policy import DEFAULT_TTL, MAX_TTL, requested_ttl, ttl_seconds


def test_no_cache_field_means_no_caching() -> None:
    assert requested_ttl({"model": "m", "messages": []}) is None
    assert requested_ttl({"orq": {"thread": {"id": "t"}}}) is None


def test_top_level_and_orq_cache_fields_both_count() -> None:
    assert requested_ttl({"cache": {"type": "exact_match", "ttl": 60}}) == 60
    assert requested_ttl({"orq": {"cache": {"type": "exact_match", "ttl": 600.0}}}) == 600


def test_top_level_wins_over_orq() -> None:
    data = {"cache": {"type": "exact_match", "ttl": 10},
            "orq": {"cache": {"type": "exact_match", "ttl": 20}}}
    assert requested_ttl(data) == 10


def test_a_missing_ttl_gets_the_default_and_a_large_one_the_maximum() -> None:
    assert requested_ttl({"cache": {"type": "exact_match"}}) == DEFAULT_TTL == 1800
    assert ttl_seconds(10**9) == MAX_TTL == 259200
    assert ttl_seconds(None) == DEFAULT_TTL


def test_an_unknown_cache_type_is_not_caching() -> None:
    assert requested_ttl({"cache": {"type": "semantic", "ttl": 60}}) is None
