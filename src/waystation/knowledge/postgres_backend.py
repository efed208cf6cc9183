"""The scale-out knowledge store: PostgreSQL with pgvector, shared by every gateway replica.

Vectors live in one `vector` column of any length; the first vector of a knowledge base fixes
its dimension `d`, and one HNSW index per dimension in use (a partial expression index on
`embedding::vector(d)` where `dims = d`, cosine distance) serves every knowledge base of that
dimension. pgvector's iterative index scan (`hnsw.iterative_scan`) keeps filtered searches from
coming back short. Keywords: a stored `tsvector` (English stemming) with a GIN index, ranked by
`ts_rank_cd`. Tables carry a `knowledge_` prefix so they may share a database with the
gateway's own store. asyncpg is used directly: the vector and full-text SQL gains nothing from
an ORM layer, and one pool serves every call.
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.knowledge.backend import KeyTaken, Row
from waystation.knowledge.filters import Filter
from waystation.knowledge.model import ChunkWhere, DimensionMismatch, Hit, Page
from waystation.knowledge.paging import finish_page, like_pattern, page_clause, query_terms
from waystation.knowledge.scores import cosine_score
from waystation.knowledge.sql_filters import Params, postgres_where

MAX_INDEXED_DIMENSIONS = 2000  # pgvector's HNSW limit for `vector`; larger ones are scanned

SCHEMA = """
CREATE TABLE IF NOT EXISTS knowledge_kb (
  id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, type TEXT NOT NULL, description TEXT,
  path TEXT, embedding_model TEXT, retrieval_settings JSONB, external_config JSONB,
  dimensions INTEGER, created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS knowledge_datasource (
  id TEXT PRIMARY KEY, kb_id TEXT NOT NULL REFERENCES knowledge_kb(id) ON DELETE CASCADE,
  display_name TEXT NOT NULL, description TEXT, status TEXT NOT NULL, status_reason TEXT,
  file_id TEXT, metadata JSONB NOT NULL DEFAULT '{}', content_hash TEXT,
  created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS knowledge_datasource_kb ON knowledge_datasource(kb_id, id);
CREATE INDEX IF NOT EXISTS knowledge_datasource_hash ON knowledge_datasource(kb_id, content_hash);
CREATE TABLE IF NOT EXISTS knowledge_chunk (
  id TEXT PRIMARY KEY, kb_id TEXT NOT NULL REFERENCES knowledge_kb(id) ON DELETE CASCADE,
  datasource_id TEXT NOT NULL REFERENCES knowledge_datasource(id) ON DELETE CASCADE,
  text TEXT NOT NULL, metadata JSONB NOT NULL DEFAULT '{}', enabled BOOLEAN NOT NULL DEFAULT TRUE,
  status TEXT NOT NULL DEFAULT 'completed', dims INTEGER, embedding vector,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
  created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS knowledge_chunk_datasource ON knowledge_chunk(datasource_id, id);
CREATE INDEX IF NOT EXISTS knowledge_chunk_kb ON knowledge_chunk(kb_id, enabled);
CREATE INDEX IF NOT EXISTS knowledge_chunk_tsv ON knowledge_chunk USING gin(tsv);
"""
_LOCK = 0x57A7_1DB0
_HIT = ("c.id, c.text, c.metadata, c.datasource_id, d.display_name AS datasource_name")


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _vector_parse(text: str) -> list[float]:
    inner = text.strip()[1:-1]
    return [float(x) for x in inner.split(",")] if inner else []


async def _init(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=lambda v: orjson.dumps(v).decode(),
                              decoder=orjson.loads, schema="pg_catalog")
    await conn.set_type_codec("vector", encoder=_vector_text, decoder=_vector_parse,
                              schema="public", format="text")
    await conn.execute("SET hnsw.iterative_scan = strict_order")


class PostgresBackend:
    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._pool: Any = None

    def exists(self) -> bool:
        return True  # a server: whether it holds the schema is found out by connecting

    async def start(self) -> None:
        if self._pool is not None:
            return
        import asyncpg

        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            async with conn.transaction():
                await conn.execute(f"SELECT pg_advisory_xact_lock({_LOCK})")
                await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                await conn.execute(SCHEMA)
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=10, init=_init)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _all(self, sql: str, *args: Any) -> list[Row]:
        await self.start()
        return [dict(r) for r in await self._pool.fetch(sql, *args)]

    async def _one(self, sql: str, *args: Any) -> Row | None:
        rows = await self._all(sql, *args)
        return rows[0] if rows else None

    async def _execute(self, sql: str, *args: Any) -> str:
        await self.start()
        return str(await self._pool.execute(sql, *args))

    # -- knowledge bases -------------------------------------------------------------------
    async def insert_kb(self, row: Row) -> None:
        import asyncpg

        try:
            await self._execute(
                "INSERT INTO knowledge_kb VALUES ($1,$2,$3,$4,$5,$6,$7,$8,NULL,$9,$10)",
                row["id"], row["key"], row["type"], row.get("description"), row.get("path"),
                row.get("embedding_model"), row.get("retrieval_settings"),
                row.get("external_config"), row["created"], row["updated"])
        except asyncpg.UniqueViolationError as error:
            raise KeyTaken(row["key"]) from error

    async def find_kb(self, ref: str) -> Row | None:
        return await self._one("SELECT * FROM knowledge_kb WHERE id = $1 OR key = $1 "
                               "ORDER BY (id = $1) DESC LIMIT 1", ref)

    async def list_kbs(self, page: Page, kind: str | None,
                       search: str | None) -> tuple[list[Row], bool]:
        p = Params("dollar")
        where = "TRUE"
        if kind:
            where += f" AND type = {p.add(kind)}"
        if search:
            pattern = p.add(like_pattern(search))
            where += f" AND (key ILIKE {pattern} OR description ILIKE {pattern})"
        cursor, tail = page_clause(page, p, descending=True)
        rows = await self._all(f"SELECT * FROM knowledge_kb WHERE {where} AND {cursor} {tail}",
                               *p.values)
        return finish_page(rows, page)

    async def _update(self, table: str, changes: Row, where: str, *keys: Any) -> None:
        p = Params("dollar", list(keys))
        sets = ", ".join(f"{k} = {p.add(v)}" for k, v in changes.items())
        await self._execute(f"UPDATE {table} SET {sets} WHERE {where}", *p.values)

    async def update_kb(self, kb_id: str, changes: Row) -> None:
        import asyncpg

        try:
            await self._update("knowledge_kb", changes, "id = $1", kb_id)
        except asyncpg.UniqueViolationError as error:
            raise KeyTaken(str(changes.get("key"))) from error

    async def delete_kb(self, kb_id: str) -> None:
        await self._execute("DELETE FROM knowledge_kb WHERE id = $1", kb_id)

    # -- datasources -----------------------------------------------------------------------
    _DS = ("SELECT d.*, (SELECT COUNT(*) FROM knowledge_chunk c WHERE c.datasource_id = d.id) "
           "AS chunks_count FROM knowledge_datasource d")

    async def insert_datasource(self, row: Row) -> None:
        await self._execute(
            "INSERT INTO knowledge_datasource VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            row["id"], row["kb_id"], row["display_name"], row.get("description"),
            row["status"], row.get("status_reason"), row.get("file_id"),
            row.get("metadata") or {}, row.get("content_hash"), row["created"], row["updated"])

    async def find_datasource(self, kb_id: str, ds_id: str) -> Row | None:
        return await self._one(f"{self._DS} WHERE d.kb_id = $1 AND d.id = $2", kb_id, ds_id)

    async def list_datasources(self, kb_id: str, page: Page, q: str | None,
                               status: str | None) -> tuple[list[Row], bool]:
        p = Params("dollar", [kb_id])
        where = "d.kb_id = $1"
        if q:
            where += f" AND d.display_name ILIKE {p.add(like_pattern(q))}"
        if status:
            where += f" AND d.status = {p.add(status)}"
        cursor, tail = page_clause(page, p, descending=True, column="d.id")
        rows = await self._all(f"{self._DS} WHERE {where} AND {cursor} {tail}", *p.values)
        return finish_page(rows, page)

    async def update_datasource(self, kb_id: str, ds_id: str, changes: Row) -> None:
        await self._update("knowledge_datasource", changes, "kb_id = $1 AND id = $2",
                           kb_id, ds_id)

    async def delete_datasource(self, kb_id: str, ds_id: str) -> None:
        await self._execute("DELETE FROM knowledge_datasource WHERE kb_id = $1 AND id = $2",
                            kb_id, ds_id)

    async def has_source(self, kb_id: str, content_hash: str) -> bool:
        return await self._one(
            "SELECT 1 FROM knowledge_datasource WHERE kb_id = $1 AND content_hash = $2 "
            "AND status = 'completed' LIMIT 1", kb_id, content_hash) is not None

    # -- chunks ----------------------------------------------------------------------------
    async def _claim_dimension(self, conn: Any, kb_id: str, lengths: set[int]) -> int | None:
        if not lengths:
            return None
        expected = await conn.fetchval(
            "SELECT dimensions FROM knowledge_kb WHERE id = $1 FOR UPDATE", kb_id)
        if expected is None:
            expected = min(lengths)
            await conn.execute("UPDATE knowledge_kb SET dimensions = $2 WHERE id = $1",
                               kb_id, expected)
            if expected <= MAX_INDEXED_DIMENSIONS:
                await conn.execute(f"SELECT pg_advisory_xact_lock({_LOCK})")
                await conn.execute(
                    f"CREATE INDEX IF NOT EXISTS knowledge_chunk_hnsw_{int(expected)} ON "
                    f"knowledge_chunk USING hnsw ((embedding::vector({int(expected)})) "
                    f"vector_cosine_ops) WHERE dims = {int(expected)}")
        wrong = next((n for n in lengths if n != expected), None)
        if wrong is not None:
            raise DimensionMismatch(int(expected), wrong)
        return int(expected)

    async def insert_chunks(self, kb_id: str, rows: list[Row]) -> None:
        await self.start()
        async with self._pool.acquire() as conn, conn.transaction():
            await self._claim_dimension(conn, kb_id, {len(r["embedding"]) for r in rows
                                                      if r["embedding"]})
            await conn.executemany(
                "INSERT INTO knowledge_chunk (id, kb_id, datasource_id, text, metadata, "
                "enabled, status, dims, embedding, created, updated) VALUES "
                "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                [(r["id"], kb_id, r["datasource_id"], r["text"], r.get("metadata") or {},
                  bool(r.get("enabled", True)), r.get("status", "completed"),
                  len(r["embedding"]) if r["embedding"] else None, r["embedding"],
                  r["created"], r["updated"]) for r in rows])

    _CHUNK = ("SELECT id, datasource_id, text, metadata, enabled, status, created, updated"
              "{vector} FROM knowledge_chunk c")

    async def find_chunk(self, kb_id: str, ds_id: str, chunk_id: str,
                         with_vector: bool = False) -> Row | None:
        sql = self._CHUNK.format(vector=", embedding" if with_vector else "")
        return await self._one(f"{sql} WHERE kb_id = $1 AND datasource_id = $2 AND id = $3",
                               kb_id, ds_id, chunk_id)

    def _chunk_where(self, kb_id: str, ds_id: str, where: ChunkWhere, p: Params) -> str:
        sql = f"c.kb_id = {p.add(kb_id)} AND c.datasource_id = {p.add(ds_id)}"
        if where.q:
            sql += f" AND c.text ILIKE {p.add(like_pattern(where.q))}"
        if where.status:
            sql += f" AND c.status = {p.add(where.status)}"
        if where.enabled is not None:
            sql += f" AND c.enabled = {p.add(where.enabled)}"
        return sql

    async def list_chunks(self, kb_id: str, ds_id: str, where: ChunkWhere,
                          page: Page) -> tuple[list[Row], bool]:
        p = Params("dollar")
        condition = self._chunk_where(kb_id, ds_id, where, p)
        cursor, tail = page_clause(page, p, descending=False, column="c.id")
        rows = await self._all(f"{self._CHUNK.format(vector='')} WHERE {condition} AND "
                               f"{cursor} {tail}", *p.values)
        return finish_page(rows, page)

    async def count_chunks(self, kb_id: str, ds_id: str, where: ChunkWhere) -> int:
        p = Params("dollar")
        condition = self._chunk_where(kb_id, ds_id, where, p)
        row = await self._one(f"SELECT COUNT(*) AS n FROM knowledge_chunk c WHERE {condition}",
                              *p.values)
        return int(row["n"]) if row else 0

    async def update_chunk(self, kb_id: str, ds_id: str, chunk_id: str,
                           changes: Row) -> None:
        values = dict(changes)
        await self.start()
        async with self._pool.acquire() as conn, conn.transaction():
            if values.get("embedding") is not None:
                values["dims"] = await self._claim_dimension(conn, kb_id,
                                                             {len(values["embedding"])})
            p = Params("dollar", [kb_id, ds_id, chunk_id])
            sets = ", ".join(f"{k} = {p.add(v)}" for k, v in values.items())
            await conn.execute(f"UPDATE knowledge_chunk SET {sets} WHERE kb_id = $1 AND "
                               "datasource_id = $2 AND id = $3", *p.values)

    async def delete_chunks(self, kb_id: str, ds_id: str, ids: list[str]) -> list[str]:
        rows = await self._all("DELETE FROM knowledge_chunk WHERE kb_id = $1 AND "
                               "datasource_id = $2 AND id = ANY($3::text[]) RETURNING id",
                               kb_id, ds_id, ids)
        return [r["id"] for r in rows]

    # -- search ----------------------------------------------------------------------------
    async def vector_search(self, kb_id: str, vector: list[float], k: int,
                            where: Filter | None, with_vectors: bool) -> list[Hit]:
        d = len(vector)
        p = Params("dollar", [vector, kb_id])
        condition = postgres_where(where, p)
        extra = ", c.embedding" if with_vectors else ""
        distance = (f"(c.embedding::vector({d}) <=> $1::vector({d}))"
                    if d <= MAX_INDEXED_DIMENSIONS else "(c.embedding <=> $1::vector)")
        sql = (f"SELECT {_HIT}, {distance} AS distance{extra} FROM knowledge_chunk c "
               "JOIN knowledge_datasource d ON d.id = c.datasource_id "
               f"WHERE c.kb_id = $2 AND c.enabled AND c.dims = {d} AND {condition} "
               f"ORDER BY {distance} LIMIT {int(k)}")
        rows = await self._all(sql, *p.values)
        return [_hit(r, cosine_score(r["distance"])) for r in rows]

    async def keyword_search(self, kb_id: str, query: str, k: int, where: Filter | None,
                             with_vectors: bool) -> list[Hit]:
        terms = query_terms(query)
        if not terms:
            return []
        p = Params("dollar", [" | ".join(terms), kb_id])
        condition = postgres_where(where, p)
        extra = ", c.embedding" if with_vectors else ""
        sql = (f"WITH q AS (SELECT to_tsquery('english', $1) AS query) "
               f"SELECT {_HIT}, ts_rank_cd(c.tsv, q.query, 32) AS rank{extra} "
               "FROM knowledge_chunk c JOIN knowledge_datasource d ON d.id = c.datasource_id, q "
               f"WHERE c.tsv @@ q.query AND c.kb_id = $2 AND c.enabled AND {condition} "
               f"ORDER BY rank DESC, c.id LIMIT {int(k)}")
        rows = await self._all(sql, *p.values)
        return [_hit(r, float(r["rank"])) for r in rows]


def _hit(row: Row, score: float) -> Hit:
    return Hit(id=row["id"], text=row["text"], metadata=row["metadata"] or {},
               datasource_id=row["datasource_id"], datasource_name=row["datasource_name"],
               score=score, vector=row.get("embedding"))
