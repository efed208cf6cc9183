"""What the knowledge engine asks of a storage backend: one interface, two implementations.

`SqliteBackend` (the embedded default: a file under the home folder, FTS5 for keywords,
sqlite-vec for vectors) and `PostgresBackend` (pgvector HNSW and tsvector full-text search, for
several gateway replicas sharing one index). Knowledge bases, datasources and chunk metadata
live beside the vectors, so a search filters, joins and ranks in one query.

Rows are plain dicts with the column names of the schema; times are unix seconds; `metadata`,
`retrieval_settings` and `external_config` are decoded JSON.
"""

from __future__ import annotations

from typing import Any, Protocol

from waystation.knowledge.filters import Filter
from waystation.knowledge.model import ChunkWhere, Hit, Page

Row = dict[str, Any]


class KnowledgeBackend(Protocol):
    name: str

    def exists(self) -> bool:
        """False when the store was never created (opening it can then wait for first use)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    # knowledge bases
    async def insert_kb(self, row: Row) -> None:
        """Raises `KeyTaken` when the key exists."""

    async def find_kb(self, ref: str) -> Row | None:
        """By id, else by key."""

    async def list_kbs(self, page: Page, kind: str | None,
                       search: str | None) -> tuple[list[Row], bool]: ...

    async def update_kb(self, kb_id: str, changes: Row) -> None: ...

    async def delete_kb(self, kb_id: str) -> None: ...

    # datasources
    async def insert_datasource(self, row: Row) -> None: ...

    async def find_datasource(self, kb_id: str, ds_id: str) -> Row | None:
        """With `chunks_count`."""

    async def list_datasources(self, kb_id: str, page: Page, q: str | None,
                               status: str | None) -> tuple[list[Row], bool]: ...

    async def update_datasource(self, kb_id: str, ds_id: str, changes: Row) -> None: ...

    async def delete_datasource(self, kb_id: str, ds_id: str) -> None: ...

    async def has_source(self, kb_id: str, content_hash: str) -> bool: ...

    # chunks
    async def insert_chunks(self, kb_id: str, rows: list[Row]) -> None:
        """Rows carry `embedding` (list of floats); the first vector stored fixes the
        knowledge base's dimension, a different length raises `DimensionMismatch`."""

    async def find_chunk(self, kb_id: str, ds_id: str, chunk_id: str,
                         with_vector: bool = False) -> Row | None: ...

    async def list_chunks(self, kb_id: str, ds_id: str, where: ChunkWhere,
                          page: Page) -> tuple[list[Row], bool]: ...

    async def count_chunks(self, kb_id: str, ds_id: str, where: ChunkWhere) -> int: ...

    async def update_chunk(self, kb_id: str, ds_id: str, chunk_id: str,
                           changes: Row) -> None:
        """`changes` may hold text, metadata, enabled, embedding, updated."""

    async def delete_chunks(self, kb_id: str, ds_id: str, ids: list[str]) -> list[str]:
        """The ids that existed and were deleted."""

    # search: enabled chunks only, best first, scores on the 0-1 scales of `scores`
    async def vector_search(self, kb_id: str, vector: list[float], k: int,
                            where: Filter | None, with_vectors: bool) -> list[Hit]: ...

    async def keyword_search(self, kb_id: str, query: str, k: int, where: Filter | None,
                             with_vectors: bool) -> list[Hit]: ...


class KeyTaken(ValueError):
    """A knowledge base with this key exists."""
