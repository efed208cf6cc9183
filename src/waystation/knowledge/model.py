"""Plain records passed between the knowledge engine and its storage backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waystation.knowledge.filters import Metadata


@dataclass(frozen=True, slots=True)
class Page:
    """Cursor pagination (`starting_after`/`ending_before`, ids are ULIDs), or offset pages
    (`offset`) for `POST …/chunks/list`."""

    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class ChunkWhere:
    """What a chunk list or count keeps: text containing `q`, a status, enabled or not."""

    q: str | None = None
    status: str | None = None
    enabled: bool | None = None


@dataclass(slots=True)
class Hit:
    """One chunk found by a search, with its 0-1 score (see `scores`)."""

    id: str
    text: str
    metadata: Metadata
    datasource_id: str
    datasource_name: str
    score: float
    vector: list[float] | None = None
    rerank_score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class DimensionMismatch(ValueError):
    """A vector's length differs from the knowledge base's (fixed by its first vector)."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"expected {expected} dimensions, got {got}")
        self.expected = expected
        self.got = got
