"""The bulk batch paths: SQLite's worker thread and PostgreSQL's COPY store the same rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Table, select

from tests.store import sample
from tests.store.conftest import empty
from tests.store.postgres import require
from tests.store.test_recorder import no_wait, until
from waystation.observe.pricing import Cost, TokenCounts
from waystation.observe.recorder import TraceWriter
from waystation.store import Store
from waystation.store.database import Database, is_transient
from waystation.store.pagination import PageRequest
from waystation.store.schema import (
    contact_tags,
    contacts,
    threads,
    trace_metadata,
    traces,
)
from waystation.store.trace_rows import RecordedTrace, checked_columns
from waystation.store.traces import TraceFilter


def batch() -> list[RecordedTrace]:
    """Traces with everything a batch can hold: bodies, metadata, contacts, threads, costs."""
    return [
        RecordedTrace(sample.trace(
            name="first", metadata={"team": "search", "env": "prod"}, stream=True, ttft_ms=12.5,
            contact={"id": "u1", "display_name": "Ada", "tags": ["beta"],
                     "metadata": [{"plan": "pro"}]},
            thread={"id": "t1", "tags": ["support"]}, cache_hit=False,
            extra={"variables": {"x": 1}, "headers": {"Authorization": "Bearer sk"}}),
            Cost(0.001, 0.0, 0.0, 0.002, 0.0)),
        RecordedTrace(sample.trace(
            status=502, contact={"id": "u2", "email": "b@x"}, thread={"id": "t1", "tags": ["x"]},
            contact_external_id="u2")),
        RecordedTrace(sample.trace(contact_external_id="header-only", cache_hit=True)),
    ]


async def read_back(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row the writer touches, with contact ids (random ULIDs) given as external ids."""
    async with db.transaction() as conn:
        ids = {row.id: row.external_id for row in await conn.execute(select(contacts))}

        async def rows(table: Table) -> list[dict[str, Any]]:
            found = await conn.execute(select(table).order_by(*table.primary_key.columns))
            return [dict(row._mapping) for row in found]

        out = {t.name: await rows(t)
               for t in (traces, trace_metadata, threads, contacts)}
        out["contact_tags"] = sorted(
            (ids[r["contact_id"]], r["tag"]) for r in await rows(contact_tags))
    for row in out["contacts"]:
        row["id"] = ids[row["id"]]
    out["contacts"].sort(key=lambda r: r["external_id"])
    return out


async def test_a_whole_batch_is_stored_by_the_sqlite_worker(tmp_path: Path) -> None:
    store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    items = batch()
    await store.sink.write(items)
    stored = await read_back(store.db)
    first, failed, header_only = stored["traces"]
    assert first["id"] == items[0].trace.id and first["request_id"] == items[0].trace.id
    assert (first["stream"], first["failed"], first["cache_hit"]) == (True, False, False)
    assert (first["prompt_tokens"], first["total_tokens"], first["cost"]) == (100, 120, 0.003)
    assert (first["contact_id"], first["thread_id"]) == ("u1", "t1")
    assert (failed["failed"], failed["status"], header_only["cache_hit"]) == (True, 502, True)
    assert header_only["contact_id"] == "header-only"
    assert all(r["request"] for r in stored["traces"])
    assert first["response"] and failed["response"] is None
    assert '"[redacted]"' in first["extra"] and failed["extra"] is None
    assert [(r["key"], r["value"]) for r in stored["trace_metadata"]] == [
        ("env", "prod"), ("team", "search")]
    assert [(c["external_id"], c["display_name"], c["email"]) for c in stored["contacts"]] == [
        ("u1", "Ada", None), ("u2", None, "b@x")]
    assert stored["contact_tags"] == [("u1", "beta")]
    [thread] = stored["threads"]
    assert (thread["id"], thread["tags"]) == ("t1", '["support","x"]')
    got = await store.traces.get(items[0].trace.id)
    assert got["extra"]["headers"] == {"Authorization": "[redacted]"}
    await store.db.close()


async def test_postgres_stores_the_same_rows_as_sqlite(
        tmp_path: Path, postgres_url: str | None) -> None:
    url = require(postgres_url).replace("postgresql://", "postgresql+asyncpg://", 1)
    found = []
    items = batch()
    later = [RecordedTrace(sample.trace(
        contact={"id": "u1", "email": "ada@new", "tags": ["vip"], "metadata": {"seats": 2}},
        thread={"id": "t1", "tags": ["escalated"]}, metadata={"team": "ads"}))]
    for each in (f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", url):
        store = Store.open(each)
        await empty(store.db)
        await store.sink.write(items)
        await store.sink.write(later)
        found.append(await read_back(store.db))
        await store.db.close()
    sqlite_rows, postgres_rows = found
    assert sqlite_rows == postgres_rows
    [ada, _] = sqlite_rows["contacts"]
    assert (ada["email"], ada["tags"], ada["metadata"]) == (
        "ada@new", '["vip"]', '{"plan":"pro","seats":2}')


async def test_a_reused_id_is_renamed_in_the_body_and_metadata_rows(store: Store) -> None:
    one = sample.trace(metadata={"n": "1"})
    await store.sink.write([RecordedTrace(one)])
    two = sample.trace(id=one.id, metadata={"n": "2"})
    fresh = sample.trace(metadata={"n": "3"})
    await store.sink.write([RecordedTrace(two), RecordedTrace(fresh)])
    stored = await read_back(store.db)
    ids = [r["id"] for r in stored["traces"]]
    assert len(ids) == 3 and fresh.id in ids and one.id in ids
    [renamed] = set(ids) - {one.id, fresh.id}
    by_trace = {r["trace_id"]: r["value"] for r in stored["trace_metadata"]}
    assert by_trace == {one.id: "1", renamed: "2", fresh.id: "3"}
    assert all(r["request"] and r["response"] for r in stored["traces"])
    assert (await store.traces.get(renamed))["request_id"] == one.id


async def test_a_batch_larger_than_one_insert_statement_is_stored_whole(
        tmp_path: Path) -> None:
    """Rows go in multi-row INSERTs of at most 256 rows: 1,201 traces take several, and
    an id already taken in the last statement still renames only that trace."""
    store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'big.db'}")
    taken = sample.trace(metadata={"n": "first"})
    await store.sink.write([RecordedTrace(taken)])
    items = [RecordedTrace(sample.trace(metadata={"n": str(i), "even": str(i % 2 == 0)}))
             for i in range(1_200)]
    items.append(RecordedTrace(sample.trace(id=taken.id, metadata={"n": "again"})))
    await store.sink.write(items)
    stored = await read_back(store.db)
    ids = {r["id"] for r in stored["traces"]}
    assert len(ids) == 1_202 and {t.trace.id for t in items[:-1]} <= ids and taken.id in ids
    assert all(r["request"] and r["response"] for r in stored["traces"])
    values = {r["value"] for r in stored["trace_metadata"] if r["key"] == "n"}
    assert values == {"first", "again"} | {str(i) for i in range(1_200)}
    assert len(stored["trace_metadata"]) == 1 + 2 * 1_200 + 1
    await store.db.close()


async def test_a_locked_database_is_waited_out_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = Store.open(f"sqlite+aiosqlite:///{path}")
    await store.db.ensure_schema()
    db = Database(f"sqlite+aiosqlite:///{path}", busy_timeout=0.05)
    store.sink.db = db
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    writer = TraceWriter(store.sink, interval=0.01, sleep=no_wait, backoff=(0.01, 0.01))
    writer.start()
    items = [sample.trace() for _ in range(3)]
    for t in items:
        writer.record(t)
    try:
        await until(lambda: writer.failures >= 2)
        assert writer.pending == 3 and writer.rejected == 0
    finally:
        holder.rollback()
        holder.close()
    assert await writer.flush()
    found, _ = await store.traces.list(TraceFilter(), PageRequest(limit=10))
    assert sorted(t["_id"] for t in found) == sorted(t.id for t in items)
    await writer.close()
    await db.close()
    await store.db.close()


async def test_a_refused_trace_leaves_the_others_and_the_connection_usable(
        store: Store) -> None:
    writer = TraceWriter(store.sink, batch_size=10)
    good = [sample.trace(), sample.trace()]
    writer.record(good[0])
    writer.record(sample.trace(status=2**70, attempts=[]))  # refused by the driver, mid-write
    writer.record(good[1])
    assert await writer.flush()
    assert writer.rejected == 1
    found, _ = await store.traces.list(TraceFilter(), PageRequest(limit=10))
    assert sorted(t["_id"] for t in found) == sorted(t.id for t in good)
    later = sample.trace()
    await store.sink.write([RecordedTrace(later)])
    assert (await store.traces.get(later.id))["_id"] == later.id


async def test_a_row_the_schema_refuses_fails_its_batch_and_stores_nothing(
        store: Store) -> None:
    """Trace rows go in with their conflicts ignored, so a taken id costs no error; a row
    skipped for another broken constraint (here NOT NULL) must still fail the batch, as a
    refusal of its data (which the writer then isolates), never vanish from it in silence."""
    bad = RecordedTrace(sample.trace(), tokens=TokenCounts(None, 0, 0, 0, 0, 0))  # type: ignore[arg-type]
    with pytest.raises(Exception) as refused:
        await store.sink.write([RecordedTrace(sample.trace()), bad, RecordedTrace(sample.trace())])
    assert not is_transient(refused.value)
    assert "null" in str(refused.value).lower()
    found, _ = await store.traces.list(TraceFilter(), PageRequest(limit=10))
    assert found == []


def test_driver_errors_are_told_apart() -> None:
    assert is_transient(sqlite3.OperationalError("database is locked"))
    assert is_transient(sqlite3.OperationalError("unable to open database file"))
    assert not is_transient(sqlite3.IntegrityError("UNIQUE constraint failed: contacts.id"))
    assert is_transient(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert is_transient(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert is_transient(asyncpg.exceptions.DeadlockDetectedError("deadlock"))
    assert is_transient(asyncpg.InterfaceError("connection is closed"))
    assert not is_transient(asyncpg.UniqueViolationError("duplicate key"))
    assert not is_transient(asyncpg.exceptions.DataError("invalid input"))
    assert not is_transient(OverflowError("Python int too large to convert to SQLite INTEGER"))


def test_a_column_the_writer_does_not_fill_fails_at_import() -> None:
    with pytest.raises(RuntimeError, match="request_id"):
        checked_columns(traces, tuple(c.name for c in traces.c if c.name != "request_id"))


def test_an_in_memory_sqlite_database_cannot_take_traces() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        Store.open("sqlite+aiosqlite://")


def test_the_worker_binds_none_and_bools_by_registered_adapter(tmp_path: Path) -> None:
    """The adapters the worker registers store what the module's own fallback stored."""
    from waystation.store.sqlite_worker import SqliteWorker

    SqliteWorker(tmp_path / "w.db", busy_timeout=1.0)
    for kind in (type(None), bool):
        assert (kind, sqlite3.PrepareProtocol) in sqlite3.adapters
    conn = sqlite3.connect(":memory:")
    stored = conn.execute("SELECT ?, typeof(?), ?, typeof(?), ?", (None, None, True, True, False))
    assert stored.fetchone() == (None, "null", 1, "integer", 0)


async def test_columns_empty_in_a_whole_batch_are_left_out_and_stored_null(
        tmp_path: Path) -> None:
    """A batch whose traces all lack a name, contact, thread and cost leaves those columns out
    of its INSERT; the next batch, which has them, fills them (another statement)."""
    store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'sparse.db'}")
    plain = [RecordedTrace(sample.trace(key_id=None, latency_ms=None)) for _ in range(3)]
    full = batch()
    await store.sink.write(plain)
    await store.sink.write(full)
    stored = {r["id"]: r for r in (await read_back(store.db))["traces"]}
    await store.db.close()
    for item in plain:
        row = stored[item.trace.id]
        assert (row["name"], row["key_id"], row["latency_ms"], row["cost"], row["contact_id"],
                row["ttft_ms"], row["metadata"], row["cache_hit"]) == (None,) * 8
        assert row["request"] and row["attempts"] and row["status"] == 200
    first = stored[full[0].trace.id]
    assert (first["name"], first["ttft_ms"], first["contact_id"], first["cost"]) == (
        "first", 12.5, "u1", 0.003)
