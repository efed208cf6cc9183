"""The seam between ingestion (files → parsed, cleaned, chunked text) and the knowledge engine
(storage, embedding, search, the management API, retrieval inside chat).

`Gateway.knowledge` implements `KnowledgeService`; `Gateway.ingestor` implements `Ingestor`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

DatasourceStatus = Literal["pending", "queued", "processing", "completed", "failed"]
SearchType = Literal["vector_search", "keyword_search", "hybrid_search"]


@dataclass(frozen=True, slots=True)
class NewChunk:
    text: str
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)
    embedding: list[float] | None = None  # None: embedded with the knowledge base's model


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    kind: Literal["default", "advanced"] = "default"
    max_characters: int = 500
    overlap: int = 0
    cleanup: frozenset[str] = frozenset()  # delete_emails, clean_whitespaces, … (orq's names)


class KnowledgeService(Protocol):
    async def resolve(self, ref: str) -> dict[str, Any]:
        """The knowledge base by id or key (its management-API object); NotFound otherwise."""

    async def create_datasource(
        self, kb_ref: str, *, display_name: str, file_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    async def set_datasource_status(
        self, kb_ref: str, datasource_id: str, status: DatasourceStatus, *,
        reason: str | None = None, chunks_count: int | None = None,
    ) -> None: ...

    async def add_chunks(
        self, kb_ref: str, datasource_id: str, chunks: list[NewChunk]
    ) -> list[str]:
        """Store chunks (embedding those without a vector, in batches); returns their ids."""

    async def has_source(self, kb_ref: str, content_hash: str) -> bool:
        """Whether a datasource with this content hash is already indexed (resumable ingest)."""


class Ingestor(Protocol):
    def schedule(
        self, kb_ref: str, datasource_id: str, file_id: str, options: ChunkingOptions
    ) -> None:
        """Parse, clean, chunk and index a stored file in the background; the datasource's status
        moves pending → processing → completed | failed (with a reason)."""
