"""The knowledge engine: knowledge bases, datasources and chunks over one storage backend.

It implements `ports.KnowledgeService` (what ingestion calls) and everything the management
API needs; searching lives in `search`. References to a knowledge base accept its id or its
key. Chunks without an embedding are embedded with the knowledge base's model through the
gateway's embedding service, in batches; the first vector stored fixes the knowledge base's
dimension and any other length is a 400.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from waystation.clock import Clock
from waystation.errors import GatewayError, InvalidRequest, NotFound
from waystation.knowledge.backend import KeyTaken, KnowledgeBackend, Row
from waystation.knowledge.filters import check_metadata
from waystation.knowledge.model import ChunkWhere, DimensionMismatch, Page
from waystation.knowledge.ports import DatasourceStatus, NewChunk
from waystation.knowledge.records import chunk_out, datasource_out, kb_out

if TYPE_CHECKING:
    from waystation.embeddings.base import EmbeddingService, RerankService
    from waystation.providers.executor import Executor
    from waystation.routing.runner import Runner

log = logging.getLogger("waystation.knowledge")
EMBED_BATCH = 128
DEFAULT_SETTINGS: dict[str, Any] = {"retrieval_type": "hybrid_search", "top_k": 5,
                                    "threshold": 0.0, "rerank_config": None,
                                    "agentic_rag_config": None}


class GatewayParts(Protocol):
    """What the engine uses of the gateway, looked up when needed (wired after start-up)."""

    @property
    def embeddings(self) -> EmbeddingService: ...

    @property
    def reranker(self) -> RerankService: ...

    @property
    def runner(self) -> Runner: ...

    @property
    def executor(self) -> Executor: ...


class EmbeddingsMissing(GatewayError):
    status = 503
    code = "embeddings_unavailable"


def dimension_error(error: DimensionMismatch, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"{param}: this knowledge base holds {error.expected}-dimensional embeddings; got "
        f"{error.got} dimensions.", param=param, code="dimension_mismatch")


class KnowledgeEngine:
    def __init__(self, backend: KnowledgeBackend, parts: GatewayParts, clock: Clock) -> None:
        self.backend = backend
        self.parts = parts
        self.clock = clock

    async def start(self) -> None:
        """Open the store; a failure is logged and retried on first use, never fatal to
        serving chat. An embedded store that does not exist yet is left to its first use: its
        engine (sqlite-vec, numpy) costs ~20 MiB that a gateway without knowledge bases never
        needs."""
        if not self.backend.exists():
            return
        try:
            await self.backend.start()
        except Exception as error:
            log.error("knowledge store (%s) is not available: %s", self.backend.name, error)

    async def close(self) -> None:
        await self.backend.close()

    def _ids(self, n: int) -> list[str]:
        """n ULIDs of this millisecond, sorted, so a batch keeps its order when listed."""
        return sorted(self.clock.ulid() for _ in range(n))

    # -- knowledge bases -------------------------------------------------------------------
    async def kb_row(self, ref: str, param: str = "knowledge_id") -> Row:
        row = await self.backend.find_kb(ref)
        if row is None:
            raise NotFound(f"No knowledge base with id or key {ref!r}.", param=param,
                           code="knowledge_base_not_found")
        return row

    async def resolve(self, ref: str) -> dict[str, Any]:
        return kb_out(await self.kb_row(ref))

    async def create_kb(self, data: dict[str, Any]) -> dict[str, Any]:
        kind = data.get("type") or "internal"
        now = self.clock.now()
        row: Row = {"id": self.clock.ulid(), "key": data["key"], "type": kind,
                    "description": data.get("description"), "path": data.get("path"),
                    "embedding_model": None, "retrieval_settings": None,
                    "external_config": None, "created": now, "updated": now}
        if kind == "external":
            if not data.get("external_config"):
                raise InvalidRequest("external_config is required for an external knowledge "
                                     "base.", param="external_config")
            row["external_config"] = data["external_config"]
        else:
            if not data.get("embedding_model"):
                raise InvalidRequest("embedding_model is required.", param="embedding_model")
            if data.get("external_config"):
                raise InvalidRequest("external_config is only for type 'external'.",
                                     param="external_config")
            row["embedding_model"] = data["embedding_model"]
            row["retrieval_settings"] = {**DEFAULT_SETTINGS,
                                         **(data.get("retrieval_settings") or {})}
        try:
            await self.backend.insert_kb(row)
        except KeyTaken:
            raise InvalidRequest(f"A knowledge base with key {data['key']!r} exists.",
                                 param="key", code="knowledge_base_exists",
                                 status=409) from None
        return kb_out(row)

    async def list_kbs(self, page: Page, kind: str | None,
                       search: str | None) -> tuple[list[dict[str, Any]], bool]:
        rows, more = await self.backend.list_kbs(page, kind, search)
        return [kb_out(r) for r in rows], more

    async def update_kb(self, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
        row = await self.kb_row(ref)
        update: Row = {k: v for k, v in changes.items()
                       if k in ("key", "description", "path")}
        if row["type"] == "external":
            for name in ("embedding_model", "retrieval_settings"):
                if name in changes:
                    raise InvalidRequest(f"{name} does not apply to an external knowledge "
                                         "base.", param=name)
            if changes.get("external_config"):
                update["external_config"] = {**(row["external_config"] or {}),
                                             **changes["external_config"]}
        else:
            if "external_config" in changes:
                raise InvalidRequest("external_config is only for type 'external'.",
                                     param="external_config")
            if changes.get("embedding_model") and \
                    changes["embedding_model"] != row["embedding_model"]:
                if row.get("dimensions") is not None:
                    raise InvalidRequest(
                        "embedding_model cannot change once chunks are stored: their vectors "
                        "come from the current model.", param="embedding_model")
                update["embedding_model"] = changes["embedding_model"]
            if changes.get("retrieval_settings") is not None:
                update["retrieval_settings"] = {**DEFAULT_SETTINGS,
                                                **changes["retrieval_settings"]}
        update["updated"] = self.clock.now()
        try:
            await self.backend.update_kb(row["id"], update)
        except KeyTaken:
            raise InvalidRequest(f"A knowledge base with key {changes.get('key')!r} exists.",
                                 param="key", code="knowledge_base_exists",
                                 status=409) from None
        return kb_out(await self.kb_row(row["id"]))

    async def delete_kb(self, ref: str) -> None:
        await self.backend.delete_kb((await self.kb_row(ref))["id"])

    # -- datasources -----------------------------------------------------------------------
    async def _internal(self, ref: str) -> Row:
        row = await self.kb_row(ref)
        if row["type"] == "external":
            raise InvalidRequest("An external knowledge base holds no datasources or chunks; "
                                 "its own service stores them.", param="knowledge_id")
        return row

    async def _datasource(self, kb_id: str, ds_id: str) -> Row:
        row = await self.backend.find_datasource(kb_id, ds_id)
        if row is None:
            raise NotFound(f"No datasource {ds_id!r} in this knowledge base.",
                           param="datasource_id", code="datasource_not_found")
        return row

    async def create_datasource(
        self, kb_ref: str, *, display_name: str, file_id: str | None = None,
        metadata: dict[str, Any] | None = None, description: str | None = None,
    ) -> dict[str, Any]:
        kb = await self._internal(kb_ref)
        now = self.clock.now()
        meta = dict(metadata or {})
        digest = meta.get("content_hash") or meta.get("hash")
        row: Row = {"id": self.clock.ulid(), "kb_id": kb["id"], "display_name": display_name,
                    "description": description,
                    "status": "pending" if file_id else "completed", "status_reason": None,
                    "file_id": file_id, "metadata": meta,
                    "content_hash": str(digest) if digest else None,
                    "created": now, "updated": now}
        await self.backend.insert_datasource(row)
        return datasource_out({**row, "chunks_count": 0})

    async def get_datasource(self, kb_ref: str, ds_id: str) -> dict[str, Any]:
        kb = await self._internal(kb_ref)
        return datasource_out(await self._datasource(kb["id"], ds_id))

    async def list_datasources(self, kb_ref: str, page: Page, q: str | None,
                               status: str | None) -> tuple[list[dict[str, Any]], bool]:
        kb = await self._internal(kb_ref)
        rows, more = await self.backend.list_datasources(kb["id"], page, q, status)
        return [datasource_out(r) for r in rows], more

    async def update_datasource(self, kb_ref: str, ds_id: str,
                                changes: dict[str, Any]) -> dict[str, Any]:
        kb = await self._internal(kb_ref)
        await self._datasource(kb["id"], ds_id)
        await self.backend.update_datasource(kb["id"], ds_id,
                                             {**changes, "updated": self.clock.now()})
        return datasource_out(await self._datasource(kb["id"], ds_id))

    async def delete_datasource(self, kb_ref: str, ds_id: str) -> None:
        kb = await self._internal(kb_ref)
        await self._datasource(kb["id"], ds_id)
        await self.backend.delete_datasource(kb["id"], ds_id)

    async def set_datasource_status(
        self, kb_ref: str, datasource_id: str, status: DatasourceStatus, *,
        reason: str | None = None, chunks_count: int | None = None,
    ) -> None:
        """`chunks_count` is accepted for the port's sake; the count shown is always the
        number of chunks stored."""
        kb = await self._internal(kb_ref)
        await self._datasource(kb["id"], datasource_id)
        await self.backend.update_datasource(kb["id"], datasource_id, {
            "status": status, "status_reason": reason, "updated": self.clock.now()})

    async def has_source(self, kb_ref: str, content_hash: str) -> bool:
        kb = await self._internal(kb_ref)
        return await self.backend.has_source(kb["id"], content_hash)

    # -- chunks ----------------------------------------------------------------------------
    async def embed_texts(self, kb: Row, texts: list[str], input_type: str) -> list[list[float]]:
        service = getattr(self.parts, "embeddings", None)
        if service is None:
            raise EmbeddingsMissing("No embedding service is configured on this gateway.")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start:start + EMBED_BATCH]
            answer = await service.embed(kb["embedding_model"], batch, input_type=input_type)
            vectors.extend(answer.vectors)
        return vectors

    async def add_chunks(self, kb_ref: str, datasource_id: str,
                         chunks: list[NewChunk]) -> list[str]:
        kb = await self._internal(kb_ref)
        await self._datasource(kb["id"], datasource_id)
        for i, chunk in enumerate(chunks):
            check_metadata(chunk.metadata, f"[{i}].metadata")
        missing = [i for i, c in enumerate(chunks) if c.embedding is None]
        vectors: dict[int, list[float]] = {}
        if missing:
            made = await self.embed_texts(kb, [chunks[i].text for i in missing],
                                          "search_document")
            vectors = dict(zip(missing, made, strict=True))
        now = self.clock.now()
        ids = self._ids(len(chunks))
        rows = [{"id": ids[i], "datasource_id": datasource_id, "text": c.text,
                 "metadata": dict(c.metadata), "enabled": True, "status": "completed",
                 "embedding": c.embedding if c.embedding is not None else vectors[i],
                 "created": now, "updated": now} for i, c in enumerate(chunks)]
        try:
            await self.backend.insert_chunks(kb["id"], rows)
        except DimensionMismatch as error:
            raise dimension_error(error, "embedding") from None
        await self.backend.update_datasource(kb["id"], datasource_id, {"updated": now})
        return ids

    async def create_chunks(self, kb_ref: str, ds_id: str,
                            items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        chunks = [NewChunk(text=i["text"], metadata=check_metadata(i.get("metadata"),
                                                                   f"[{n}].metadata"),
                           embedding=i.get("embedding")) for n, i in enumerate(items)]
        kb = await self._internal(kb_ref)
        ids = await self.add_chunks(kb["id"], ds_id, chunks)
        return [await self.get_chunk(kb["id"], ds_id, chunk_id) for chunk_id in ids]

    async def get_chunk(self, kb_ref: str, ds_id: str, chunk_id: str,
                        with_vector: bool = False) -> dict[str, Any]:
        kb = await self._internal(kb_ref)
        row = await self.backend.find_chunk(kb["id"], ds_id, chunk_id, with_vector)
        if row is None:
            raise NotFound(f"No chunk {chunk_id!r} in this datasource.", param="chunk_id",
                           code="chunk_not_found")
        return chunk_out(row)

    async def list_chunks(self, kb_ref: str, ds_id: str, where: ChunkWhere,
                          page: Page) -> tuple[list[dict[str, Any]], bool]:
        kb = await self._internal(kb_ref)
        await self._datasource(kb["id"], ds_id)
        rows, more = await self.backend.list_chunks(kb["id"], ds_id, where, page)
        return [chunk_out(r) for r in rows], more

    async def count_chunks(self, kb_ref: str, ds_id: str, where: ChunkWhere) -> int:
        kb = await self._internal(kb_ref)
        await self._datasource(kb["id"], ds_id)
        return await self.backend.count_chunks(kb["id"], ds_id, where)

    async def update_chunk(self, kb_ref: str, ds_id: str, chunk_id: str,
                           changes: dict[str, Any]) -> dict[str, Any]:
        kb = await self._internal(kb_ref)
        await self.get_chunk(kb["id"], ds_id, chunk_id)
        update: Row = {k: v for k, v in changes.items() if k in ("text", "enabled")}
        if "metadata" in changes:
            update["metadata"] = check_metadata(changes["metadata"])
        if changes.get("embedding") is not None:
            update["embedding"] = changes["embedding"]
        elif "text" in changes:  # new text, new vector
            update["embedding"] = (await self.embed_texts(kb, [changes["text"]],
                                                          "search_document"))[0]
        update["updated"] = self.clock.now()
        try:
            await self.backend.update_chunk(kb["id"], ds_id, chunk_id, update)
        except DimensionMismatch as error:
            raise dimension_error(error, "embedding") from None
        return await self.get_chunk(kb["id"], ds_id, chunk_id)

    async def delete_chunks(self, kb_ref: str, ds_id: str,
                            ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """(deleted ids, ids that were not found)."""
        kb = await self._internal(kb_ref)
        await self._datasource(kb["id"], ds_id)
        wanted = list(dict.fromkeys(ids))
        deleted = await self.backend.delete_chunks(kb["id"], ds_id, wanted)
        return deleted, [i for i in wanted if i not in set(deleted)]
