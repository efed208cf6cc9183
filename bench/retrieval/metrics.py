"""Retrieval metrics as pure functions: nDCG@k and recall@k over binary relevance, and the
percentiles the latency report uses."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Normalised discounted cumulative gain with binary gains: 1 for a relevant id at rank r
    counts 1/log2(r + 1); divided by the best possible for this many relevant ids."""
    if not relevant:
        return 0.0
    gain = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k])
               if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return gain / ideal


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """The share of the relevant ids found in the first k (duplicates counted once)."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
