"""The 0-1 scores a search reports and its `threshold` is compared with (documented in
docs/knowledge.md, "Scores").

* vector: cosine similarity of query and chunk, clamped at 0 (1 = same direction, 0 = unrelated
  or opposite). This is the scale `threshold` has in orq's own knowledge bases.
* keyword: a BM25-style rank `r` squashed to `r / (r + 1)`: SQLite's FTS5 `bm25()` (negated),
  PostgreSQL's `ts_rank_cd` (whose normalisation flag 32 is the same squash). Monotonic in the
  rank, so order is kept; the two engines weigh terms differently, so values are comparable
  only within one backend.
* hybrid: reciprocal-rank fusion, `sum(1 / (K + rank))` over the vector and keyword lists,
  divided by its maximum `2 / (K + 1)`: 1.0 for a chunk ranked first by both, about 0.5 for one
  ranked first by only one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def cosine_score(distance: float) -> float:
    """Cosine distance (1 - cosine similarity) → similarity clamped to [0, 1]."""
    return min(1.0, max(0.0, 1.0 - distance))


def rank_score(rank: float) -> float:
    """A non-negative text-rank → [0, 1)."""
    rank = max(0.0, rank)
    return rank / (rank + 1.0)


def fuse(ranked: Sequence[Sequence[str]]) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of ranked id lists → (id, normalised score), best first.

    Ties keep the order of first appearance (vector list first), so results are stable.
    """
    total: dict[str, float] = {}
    for items in ranked:
        for rank, item in enumerate(items, start=1):
            total[item] = total.get(item, 0.0) + 1.0 / (RRF_K + rank)
    best = 2.0 / (RRF_K + 1)
    order = sorted(total.items(), key=lambda kv: -kv[1])
    return [(item, min(1.0, score / best)) for item, score in order]
