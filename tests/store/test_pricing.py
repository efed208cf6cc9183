"""Pricing: every kind of token at its own price; unknown models are null, never free."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waystation.observe.pricing import FREE, PriceTable

TABLE = PriceTable.load(provider_aliases={"gemini": "google"})


def test_the_table_names_its_date_and_covers_the_built_in_providers() -> None:
    assert TABLE.as_of and TABLE.as_of[:2] == "20"
    for model in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5",
                  "google/gemini-2.5-flash", "groq/llama-3.1-8b-instant",
                  "mistral/mistral-small-latest", "deepseek/deepseek-chat", "xai/grok-4",
                  "cohere/command-a-03-2025"):
        assert TABLE.find(model) is not None, model


def test_cached_tokens_cost_the_cached_price() -> None:
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000,
             "prompt_tokens_details": {"cached_tokens": 400_000}}
    cost = TABLE.cost("openai/gpt-4o", usage)
    assert cost is not None
    assert cost.input == pytest.approx(0.6 * 2.5)
    assert cost.cached_input == pytest.approx(0.4 * 1.25)
    assert cost.output == pytest.approx(10.0)
    assert cost.total == pytest.approx(1.5 + 0.5 + 10.0)


def test_cache_writes_and_reads_at_their_anthropic_prices() -> None:
    usage = {"prompt_tokens": 3_000_000, "completion_tokens": 0,
             "prompt_tokens_details": {"cached_tokens": 1_000_000,
                                       "cache_creation_tokens": 1_000_000}}
    cost = TABLE.cost("anthropic/claude-sonnet-4-5", usage)
    assert cost is not None
    assert (cost.input, cost.cached_input, cost.cache_write) == pytest.approx((3.0, 0.3, 3.75))


def test_reasoning_tokens_use_the_reasoning_price_when_it_differs(tmp_path: Path) -> None:
    extra = tmp_path / "prices.json"
    extra.write_text(json.dumps({"models": {
        "acme/thinker": {"input": 1.0, "output": 2.0, "reasoning": 8.0}}}))
    table = PriceTable.load(extra)
    usage = {"prompt_tokens": 0, "completion_tokens": 1_000_000,
             "completion_tokens_details": {"reasoning_tokens": 250_000}}
    cost = table.cost("acme/thinker", usage)
    assert cost is not None
    assert (cost.output, cost.reasoning) == pytest.approx((0.75 * 2.0, 0.25 * 8.0))
    same = TABLE.cost("openai/o3", usage)
    assert same is not None and same.total == pytest.approx(8.0)  # reasoning at output price
    assert table.find("openai/gpt-4o") is not None  # the built-in table is still there


def test_unknown_models_and_missing_usage_cost_null_and_a_cache_hit_costs_nothing() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 10}
    assert TABLE.cost("acme/nothing-known", usage) is None
    assert TABLE.cost(None, usage) is None
    assert TABLE.cost("openai/gpt-4o", None) is None
    assert TABLE.cost("openai/gpt-4o", usage, cache_hit=True) == FREE


def test_dated_and_aliased_names_find_their_model() -> None:
    assert TABLE.find("openai/gpt-4o-2024-08-06") == TABLE.find("openai/gpt-4o")
    assert TABLE.find("anthropic/claude-haiku-4-5-20251001") == TABLE.find(
        "anthropic/claude-haiku-4-5")
    assert TABLE.find("gemini/gemini-2.5-pro") == TABLE.find("google/gemini-2.5-pro")
    assert TABLE.find("openai/gpt-4o-mini-2024-07-18") == TABLE.find("openai/gpt-4o-mini")


def test_a_price_file_entry_without_input_and_output_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"models": {"acme/x": {"input": 1.0}}}))
    with pytest.raises(ValueError, match="acme/x"):
        PriceTable.load(bad)
