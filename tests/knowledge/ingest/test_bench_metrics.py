"""The retrieval benchmark's metrics (`bench/retrieval/metrics.py`): nDCG@k, recall@k and
percentiles, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from tests.bench_scripts import load

m = load("retrieval/metrics.py", "bench_retrieval_metrics")


def test_ndcg_is_one_for_a_perfect_ranking_and_zero_for_none() -> None:
    assert m.ndcg_at_k(["a", "b", "x"], {"a", "b"}) == pytest.approx(1.0)
    assert m.ndcg_at_k(["x", "y"], {"a"}) == 0.0
    assert m.ndcg_at_k(["a"], set()) == 0.0


def test_ndcg_discounts_by_rank() -> None:
    # one relevant document found at rank 2 of 1 relevant: (1/log2 3) / (1/log2 2)
    assert m.ndcg_at_k(["x", "a"], {"a"}) == pytest.approx(1 / math.log2(3))
    # two relevant, found at ranks 1 and 3
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(["a", "x", "b"], {"a", "b"}) == pytest.approx(expected)


def test_ndcg_and_recall_only_look_at_the_first_k() -> None:
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert m.ndcg_at_k(ranked, {"a"}, k=10) == 0.0
    assert m.recall_at_k(ranked, {"a"}, k=10) == 0.0
    assert m.recall_at_k(ranked, {"a"}, k=11) == 1.0


def test_recall_is_the_share_of_relevant_found() -> None:
    assert m.recall_at_k(["a", "x", "a", "c"], {"a", "b", "c", "d"}) == 0.5


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert m.percentile(values, 50) == pytest.approx(50.5)
    assert m.percentile(values, 99) == pytest.approx(99.01)
    assert m.percentile([3.0], 99) == 3.0
    with pytest.raises(ValueError):
        m.percentile([], 50)
