"""The embedded knowledge store: one SQLite file (`knowledge.db` under the home folder).

Keywords: an FTS5 index (porter stemming, BM25) kept in step with the chunk table by triggers.
Vectors: float32 blobs compared with sqlite-vec's `vec_distance_cosine`, an exact scan of the
knowledge base's enabled chunks that pass the filter, so filters and disabled chunks never
cost recall (the scale-out mode with an approximate index is the Postgres backend).

Python's own `sqlite3` here cannot load extensions, so the connection is an `apsw` one. All
SQLite work runs on one worker thread, which owns the connection: the event loop never waits on
the disk, and writes are serialised without a lock.
"""

from __future__ import annotations

import asyncio
import functools
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from waystation.knowledge.backend import KeyTaken, Row
from waystation.knowledge.filters import Filter
from waystation.knowledge.model import ChunkWhere, DimensionMismatch, Hit, Page
from waystation.knowledge.paging import finish_page, like_pattern, page_clause, query_terms
from waystation.knowledge.scores import cosine_score, rank_score
from waystation.knowledge.sql_filters import Params, sqlite_where

T = TypeVar("T")
_JSON_COLUMNS = ("metadata", "retrieval_settings", "external_config")

SCHEMA = """
CREATE TABLE IF NOT EXISTS kb (
  id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, type TEXT NOT NULL, description TEXT,
  path TEXT, embedding_model TEXT, retrieval_settings TEXT, external_config TEXT,
  dimensions INTEGER, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS datasource (
  id TEXT PRIMARY KEY, kb_id TEXT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
  display_name TEXT NOT NULL, description TEXT, status TEXT NOT NULL, status_reason TEXT,
  file_id TEXT, metadata TEXT NOT NULL DEFAULT '{}', content_hash TEXT,
  created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS datasource_kb ON datasource(kb_id, id);
CREATE INDEX IF NOT EXISTS datasource_hash ON datasource(kb_id, content_hash);
CREATE TABLE IF NOT EXISTS chunk (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kb_id TEXT NOT NULL,
  datasource_id TEXT NOT NULL REFERENCES datasource(id) ON DELETE CASCADE,
  text TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', enabled INTEGER NOT NULL DEFAULT 1,
  status TEXT NOT NULL DEFAULT 'completed', embedding BLOB,
  created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS chunk_datasource ON chunk(datasource_id, id);
CREATE INDEX IF NOT EXISTS chunk_kb ON chunk(kb_id, enabled);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(
  text, content='chunk', content_rowid='seq', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS chunk_fts_insert AFTER INSERT ON chunk BEGIN
  INSERT INTO chunk_fts(rowid, text) VALUES (new.seq, new.text); END;
CREATE TRIGGER IF NOT EXISTS chunk_fts_delete AFTER DELETE ON chunk BEGIN
  INSERT INTO chunk_fts(chunk_fts, rowid, text) VALUES ('delete', old.seq, old.text); END;
CREATE TRIGGER IF NOT EXISTS chunk_fts_update AFTER UPDATE OF text ON chunk BEGIN
  INSERT INTO chunk_fts(chunk_fts, rowid, text) VALUES ('delete', old.seq, old.text);
  INSERT INTO chunk_fts(rowid, text) VALUES (new.seq, new.text); END;
PRAGMA user_version = 1;
"""

_HIT_COLUMNS = "c.id, c.text, c.metadata, c.datasource_id, d.display_name AS datasource_name"


def pack(vector: list[float]) -> bytes:
    return array("f", vector).tobytes()


def unpack(blob: bytes | None) -> list[float] | None:
    if blob is None:
        return None
    values = array("f")
    values.frombytes(blob)
    return [round(v, 7) for v in values.tolist()]


def _dict_row(cursor: Any, row: tuple[Any, ...]) -> Row:
    out = dict(zip((d[0] for d in cursor.getdescription()), row, strict=True))
    for column in _JSON_COLUMNS:
        if isinstance(out.get(column), str):
            out[column] = orjson.loads(out[column])
    return out


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class SqliteBackend:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge-sqlite")
        self._conn: Any = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._conn is None:
            await self.start()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    def exists(self) -> bool:
        return self.path.exists()

    async def start(self) -> None:
        if self._conn is None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._pool, self._open)

    def _open(self) -> None:
        if self._conn is not None:
            return
        import apsw
        import sqlite_vec

        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = apsw.Connection(str(self.path))
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.enable_load_extension(False)
        conn.set_busy_timeout(15000)
        conn.row_trace = _dict_row
        conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON;")
        with conn:
            conn.execute(SCHEMA)
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(self._pool, conn.close)
        finally:  # the thread ends even when closing its connection failed
            self._pool.shutdown(wait=False)

    def _all(self, sql: str, params: Any = ()) -> list[Row]:
        return list(self._conn.execute(sql, params))

    def _one(self, sql: str, params: Any = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    # -- knowledge bases -------------------------------------------------------------------
    async def insert_kb(self, row: Row) -> None:
        def work() -> None:
            import apsw

            try:
                with self._conn:
                    self._conn.execute(
                        "INSERT INTO kb VALUES (:id, :key, :type, :description, :path, "
                        ":embedding_model, :retrieval_settings, :external_config, NULL, "
                        ":created, :updated)",
                        {**row, "retrieval_settings": _json(row.get("retrieval_settings")),
                         "external_config": _json(row.get("external_config"))})
            except apsw.ConstraintError as error:
                raise KeyTaken(row["key"]) from error

        await self._run(work)

    async def find_kb(self, ref: str) -> Row | None:
        return await self._run(
            self._one, "SELECT * FROM kb WHERE id = ? UNION ALL "
            "SELECT * FROM kb WHERE key = ? AND id != ? LIMIT 1", (ref, ref, ref))

    async def list_kbs(self, page: Page, kind: str | None,
                       search: str | None) -> tuple[list[Row], bool]:
        p = Params("qmark")
        where = ["1=1"]
        if kind:
            where.append(f"type = {p.add(kind)}")
        if search:
            where.append(f"(key LIKE {p.add(like_pattern(search))} ESCAPE '\\' "
                         f"OR description LIKE {p.add(like_pattern(search))} ESCAPE '\\')")
        cursor, tail = page_clause(page, p, descending=True)
        sql = f"SELECT * FROM kb WHERE {' AND '.join(where)} AND {cursor} {tail}"
        return finish_page(await self._run(self._all, sql, p.values), page)

    async def update_kb(self, kb_id: str, changes: Row) -> None:
        values = {k: _json(v) if k in _JSON_COLUMNS else v for k, v in changes.items()}
        sets = ", ".join(f"{k} = :{k}" for k in values)

        def work() -> None:
            import apsw

            try:
                with self._conn:
                    self._conn.execute(f"UPDATE kb SET {sets} WHERE id = :kb_id",
                                       {**values, "kb_id": kb_id})
            except apsw.ConstraintError as error:
                raise KeyTaken(str(changes.get("key"))) from error

        await self._run(work)

    async def delete_kb(self, kb_id: str) -> None:
        def work() -> None:
            with self._conn:
                self._conn.execute("DELETE FROM chunk WHERE kb_id = ?", (kb_id,))
                self._conn.execute("DELETE FROM datasource WHERE kb_id = ?", (kb_id,))
                self._conn.execute("DELETE FROM kb WHERE id = ?", (kb_id,))

        await self._run(work)

    # -- datasources -----------------------------------------------------------------------
    _DS = ("SELECT d.*, (SELECT COUNT(*) FROM chunk c WHERE c.datasource_id = d.id) "
           "AS chunks_count FROM datasource d")

    async def insert_datasource(self, row: Row) -> None:
        def work() -> None:
            with self._conn:
                self._conn.execute(
                    "INSERT INTO datasource VALUES (:id, :kb_id, :display_name, :description, "
                    ":status, :status_reason, :file_id, :metadata, :content_hash, :created, "
                    ":updated)", {**row, "metadata": _json(row.get("metadata") or {})})

        await self._run(work)

    async def find_datasource(self, kb_id: str, ds_id: str) -> Row | None:
        return await self._run(self._one, f"{self._DS} WHERE d.kb_id = ? AND d.id = ?",
                               (kb_id, ds_id))

    async def list_datasources(self, kb_id: str, page: Page, q: str | None,
                               status: str | None) -> tuple[list[Row], bool]:
        p = Params("qmark", [kb_id])
        where = "d.kb_id = ?"
        if q:
            where += f" AND d.display_name LIKE {p.add(like_pattern(q))} ESCAPE '\\'"
        if status:
            where += f" AND d.status = {p.add(status)}"
        cursor, tail = page_clause(page, p, descending=True, column="d.id")
        rows = await self._run(self._all, f"{self._DS} WHERE {where} AND {cursor} {tail}",
                               p.values)
        return finish_page(rows, page)

    async def update_datasource(self, kb_id: str, ds_id: str, changes: Row) -> None:
        values = {k: _json(v) if k in _JSON_COLUMNS else v for k, v in changes.items()}
        sets = ", ".join(f"{k} = :{k}" for k in values)

        def work() -> None:
            with self._conn:
                self._conn.execute(
                    f"UPDATE datasource SET {sets} WHERE kb_id = :kb_id AND id = :ds_id",
                    {**values, "kb_id": kb_id, "ds_id": ds_id})

        await self._run(work)

    async def delete_datasource(self, kb_id: str, ds_id: str) -> None:
        def work() -> None:
            with self._conn:
                self._conn.execute("DELETE FROM chunk WHERE kb_id = ? AND datasource_id = ?",
                                   (kb_id, ds_id))
                self._conn.execute("DELETE FROM datasource WHERE kb_id = ? AND id = ?",
                                   (kb_id, ds_id))

        await self._run(work)

    async def has_source(self, kb_id: str, content_hash: str) -> bool:
        row = await self._run(
            self._one, "SELECT 1 AS found FROM datasource WHERE kb_id = ? AND content_hash = ? "
            "AND status = 'completed' LIMIT 1", (kb_id, content_hash))
        return row is not None

    # -- chunks ----------------------------------------------------------------------------
    def _claim_dimension(self, kb_id: str, vectors: list[list[float]]) -> None:
        """Inside the caller's transaction: the first vector fixes the dimension."""
        if not vectors:
            return
        row = self._one("SELECT dimensions FROM kb WHERE id = ?", (kb_id,))
        expected = row["dimensions"] if row else None
        if expected is None:
            expected = len(vectors[0])
            self._conn.execute("UPDATE kb SET dimensions = ? WHERE id = ?", (expected, kb_id))
        for vector in vectors:
            if len(vector) != expected:
                raise DimensionMismatch(expected, len(vector))

    async def insert_chunks(self, kb_id: str, rows: list[Row]) -> None:
        def work() -> None:
            with self._conn:
                self._claim_dimension(kb_id, [r["embedding"] for r in rows if r["embedding"]])
                self._conn.executemany(
                    "INSERT INTO chunk (id, kb_id, datasource_id, text, metadata, enabled, "
                    "status, embedding, created, updated) VALUES (:id, :kb_id, "
                    ":datasource_id, :text, :metadata, :enabled, :status, :embedding, "
                    ":created, :updated)",
                    [{**r, "kb_id": kb_id, "metadata": _json(r.get("metadata") or {}),
                      "enabled": int(r.get("enabled", True)),
                      "embedding": pack(r["embedding"]) if r["embedding"] else None}
                     for r in rows])

        await self._run(work)

    _CHUNK = ("SELECT id, datasource_id, text, metadata, enabled, status, created, updated"
              "{vector} FROM chunk c")

    async def find_chunk(self, kb_id: str, ds_id: str, chunk_id: str,
                         with_vector: bool = False) -> Row | None:
        sql = self._CHUNK.format(vector=", embedding" if with_vector else "")
        row = await self._run(self._one, f"{sql} WHERE kb_id = ? AND datasource_id = ? "
                              "AND id = ?", (kb_id, ds_id, chunk_id))
        return _chunk_out(row) if row else None

    def _chunk_where(self, kb_id: str, ds_id: str, where: ChunkWhere, p: Params) -> str:
        sql = f"c.kb_id = {p.add(kb_id)} AND c.datasource_id = {p.add(ds_id)}"
        if where.q:
            sql += f" AND c.text LIKE {p.add(like_pattern(where.q))} ESCAPE '\\'"
        if where.status:
            sql += f" AND c.status = {p.add(where.status)}"
        if where.enabled is not None:
            sql += f" AND c.enabled = {p.add(int(where.enabled))}"
        return sql

    async def list_chunks(self, kb_id: str, ds_id: str, where: ChunkWhere,
                          page: Page) -> tuple[list[Row], bool]:
        p = Params("qmark")
        condition = self._chunk_where(kb_id, ds_id, where, p)
        cursor, tail = page_clause(page, p, descending=False, column="c.id")
        sql = f"{self._CHUNK.format(vector='')} WHERE {condition} AND {cursor} {tail}"
        rows, more = finish_page(await self._run(self._all, sql, p.values), page)
        return [_chunk_out(r) for r in rows], more

    async def count_chunks(self, kb_id: str, ds_id: str, where: ChunkWhere) -> int:
        p = Params("qmark")
        condition = self._chunk_where(kb_id, ds_id, where, p)
        row = await self._run(self._one, f"SELECT COUNT(*) AS n FROM chunk c WHERE {condition}",
                              p.values)
        return int(row["n"]) if row else 0

    async def update_chunk(self, kb_id: str, ds_id: str, chunk_id: str,
                           changes: Row) -> None:
        values = dict(changes)
        if "metadata" in values:
            values["metadata"] = _json(values["metadata"])
        if "enabled" in values:
            values["enabled"] = int(values["enabled"])
        vector = values.pop("embedding", None)
        if vector is not None:
            values["embedding"] = pack(vector)
        sets = ", ".join(f"{k} = :{k}" for k in values)

        def work() -> None:
            with self._conn:
                if vector is not None:
                    self._claim_dimension(kb_id, [vector])
                self._conn.execute(f"UPDATE chunk SET {sets} WHERE kb_id = :kb_id AND "
                                   "datasource_id = :ds_id AND id = :chunk_id",
                                   {**values, "kb_id": kb_id, "ds_id": ds_id,
                                    "chunk_id": chunk_id})

        await self._run(work)

    async def delete_chunks(self, kb_id: str, ds_id: str, ids: list[str]) -> list[str]:
        def work() -> list[str]:
            with self._conn:
                marks = ", ".join("?" for _ in ids)
                found = [r["id"] for r in self._all(
                    f"SELECT id FROM chunk WHERE kb_id = ? AND datasource_id = ? AND id IN "
                    f"({marks})", (kb_id, ds_id, *ids))]
                self._conn.executemany("DELETE FROM chunk WHERE id = ?", [(i,) for i in found])
                return found

        return await self._run(work) if ids else []

    # -- search ----------------------------------------------------------------------------
    async def vector_search(self, kb_id: str, vector: list[float], k: int,
                            where: Filter | None, with_vectors: bool) -> list[Hit]:
        p = Params("qmark", [pack(vector), kb_id])
        condition = sqlite_where(where, p)
        extra = ", c.embedding" if with_vectors else ""
        sql = (f"SELECT {_HIT_COLUMNS}, vec_distance_cosine(c.embedding, ?) AS distance{extra} "
               "FROM chunk c JOIN datasource d ON d.id = c.datasource_id "
               "WHERE c.kb_id = ? AND c.enabled = 1 AND c.embedding IS NOT NULL "
               f"AND {condition} ORDER BY distance, c.id LIMIT {int(k)}")
        rows = await self._run(self._all, sql, p.values)
        return [_hit(r, cosine_score(r["distance"])) for r in rows]

    async def keyword_search(self, kb_id: str, query: str, k: int, where: Filter | None,
                             with_vectors: bool) -> list[Hit]:
        terms = query_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        p = Params("qmark", [match, kb_id])
        condition = sqlite_where(where, p)
        extra = ", c.embedding" if with_vectors else ""
        sql = (f"SELECT {_HIT_COLUMNS}, -bm25(chunk_fts) AS rank{extra} FROM chunk_fts "
               "JOIN chunk c ON c.seq = chunk_fts.rowid "
               "JOIN datasource d ON d.id = c.datasource_id "
               "WHERE chunk_fts MATCH ? AND c.kb_id = ? AND c.enabled = 1 "
               f"AND {condition} ORDER BY bm25(chunk_fts), c.id LIMIT {int(k)}")
        rows = await self._run(self._all, sql, p.values)
        return [_hit(r, rank_score(r["rank"])) for r in rows]


def _chunk_out(row: Row) -> Row:
    row["enabled"] = bool(row["enabled"])
    if "embedding" in row:
        row["embedding"] = unpack(row["embedding"])
    return row


def _hit(row: Row, score: float) -> Hit:
    return Hit(id=row["id"], text=row["text"], metadata=row["metadata"] or {},
               datasource_id=row["datasource_id"], datasource_name=row["datasource_name"],
               score=score, vector=unpack(row.get("embedding")))
