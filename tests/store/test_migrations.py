"""Migrations run in order, once, whole, and adopt the key table of earlier installations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import inspect, text

from waystation.store.database import Database
from waystation.store.keys import KeyStore, hash_key
from waystation.store.migrations import LATEST, MIGRATIONS, current_version, upgrade
from waystation.store.pagination import PageRequest
from waystation.store.schema import ALL_TABLES
from waystation.store.sqlite_worker import PAGE_SIZE


async def drop_everything(db: Database) -> None:
    async with db.transaction() as conn:
        for table in ("trace_bodies", *ALL_TABLES):  # trace_bodies: before migration 6
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"
                                    + ("" if db.is_sqlite else " CASCADE")))


async def test_an_empty_database_is_migrated_in_order_with_progress(database_url: str) -> None:
    db = Database(database_url)
    try:
        await drop_everything(db)
        assert await current_version(db) == 0
        said: list[str] = []
        assert await upgrade(db, said.append) == [m.version for m in MIGRATIONS]
        assert await current_version(db) == LATEST
        assert said[0].startswith("applying migration 0001")
        assert any("0003" in line for line in said)
        async with db.transaction() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert set(ALL_TABLES) <= tables
        assert await upgrade(db, said.append) == []  # a second run has nothing to do
    finally:
        await db.close()


async def test_concurrent_starts_apply_each_migration_once(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        await drop_everything(first)
        results = await asyncio.gather(upgrade(first), upgrade(second))
        assert sorted(results[0] + results[1]) == [m.version for m in MIGRATIONS]
        async with first.transaction() as conn:
            rows = (await conn.execute(text("SELECT version FROM schema_version"))).all()
        assert sorted(r[0] for r in rows) == [m.version for m in MIGRATIONS]
    finally:
        await first.close()
        await second.close()


async def test_a_key_table_from_before_migrations_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "waystation.db"
    legacy = sqlite3.connect(path)
    legacy.execute("CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, key_hash "
                   "TEXT NOT NULL UNIQUE, hint TEXT NOT NULL, created REAL NOT NULL, "
                   "revoked REAL)")
    legacy.execute("INSERT INTO api_keys VALUES ('key_old', 'old', ?, 'ws-…', 1.0, NULL)",
                   (hash_key("ws-old-secret"),))
    legacy.commit()
    legacy.close()
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.ensure_schema()
        assert await KeyStore(db).lookup(hash_key("ws-old-secret")) == "key_old"
        assert await current_version(db) == LATEST
    finally:
        await db.close()


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        return size
    finally:
        conn.close()


async def test_a_new_sqlite_file_gets_large_pages_and_an_old_one_keeps_its_own(
        tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    legacy = sqlite3.connect(old)
    legacy.execute("CREATE TABLE keep (a)")  # the page size is fixed once a table is written
    legacy.commit()
    legacy.close()
    assert _page_size(old) == 4096
    for path in (tmp_path / "new.db", old):
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await db.ensure_schema()
            await db.sqlite_worker().run(lambda conn: conn.execute("SELECT 1").fetchall())
        finally:
            await db.close()
    assert _page_size(tmp_path / "new.db") == PAGE_SIZE
    assert _page_size(old) == 4096


async def test_a_failed_migration_leaves_no_trace_of_itself(tmp_path: Path) -> None:
    """DDL is transactional on both engines (SQLite needs BEGIN emitted by us)."""
    from waystation.store import migrations

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")

    def broken(conn: object) -> None:
        MIGRATIONS[0].apply(conn)  # type: ignore[arg-type]
        raise RuntimeError("half-way")

    original = migrations.MIGRATIONS
    migrations.MIGRATIONS = (migrations.Migration(1, "broken", broken),)
    try:
        try:
            await migrations.upgrade(db)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the broken migration did not fail")
        async with db.transaction() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert "api_keys" not in tables
    finally:
        migrations.MIGRATIONS = original
        await db.close()


async def test_bodies_stored_before_they_moved_into_the_traces_rows_are_kept(
        database_url: str) -> None:
    """Migration 6 moves `trace_bodies` into `traces`: a trace written before reads the same."""
    from waystation.store import migrations
    from waystation.store.traces import TraceQueries

    db = Database(database_url)
    original = migrations.MIGRATIONS
    try:
        await drop_everything(db)
        migrations.MIGRATIONS = original[:5]
        await migrations.upgrade(db)
        async with db.transaction() as conn:
            for trace_id, bodies in (("01JA0000000000000000000001", True),
                                     ("01JA0000000000000000000002", False)):
                await conn.execute(text(
                    "INSERT INTO traces (id, created, day, status, failed, stream, "
                    "prompt_tokens, completion_tokens, total_tokens, cached_tokens, "
                    "reasoning_tokens) VALUES (:id, 1.0, '1970-01-01', 200, false, false, "
                    "1, 2, 3, 0, 0)"), {"id": trace_id})
                if bodies:
                    await conn.execute(text(
                        "INSERT INTO trace_bodies VALUES (:id, :request, :response, :extra)"),
                        {"id": trace_id, "request": '{"model":"m"}',
                         "response": '{"id":"c"}', "extra": '{"x":1}'})
        migrations.MIGRATIONS = original
        assert await upgrade(db) == [m.version for m in original[5:]]
        async with db.transaction() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert "trace_bodies" not in tables
        moved = await TraceQueries(db).get("01JA0000000000000000000001")
        assert (moved["request"], moved["response"], moved["extra"]) == (
            {"model": "m"}, {"id": "c"}, {"x": 1})
        bare = await TraceQueries(db).get("01JA0000000000000000000002")
        assert (bare["request"], bare["response"], bare["extra"]) == (None, None, {})
    finally:
        migrations.MIGRATIONS = original
        await db.close()


async def test_trace_lookups_use_the_partial_indexes(database_url: str) -> None:
    """Migration 7 leaves traces without a thread, a contact or a request id of their own out
    of those indexes; lookups by each still find what they look for, through the index."""
    from tests.store import sample
    from waystation.store import Store
    from waystation.store.trace_rows import RecordedTrace
    from waystation.store.traces import TraceFilter

    store = Store.open(database_url)
    try:
        await drop_everything(store.db)
        await upgrade(store.db)
        plain = sample.trace()
        named = sample.trace(id="caller-chosen-id", thread={"id": "t1"},
                             contact={"id": "c1"}, contact_external_id="c1")
        await store.sink.write([RecordedTrace(plain), RecordedTrace(named)])
        assert (await store.traces.get(plain.id))["_id"] == plain.id
        by_request = await store.traces.get("caller-chosen-id")
        assert by_request["request_id"] == "caller-chosen-id" and by_request["_id"] != plain.id
        page = PageRequest(limit=10)
        found, _ = await store.traces.list(TraceFilter(thread_id="t1"), page)
        assert [t["request_id"] for t in found] == ["caller-chosen-id"]
        found, _ = await store.traces.list(TraceFilter(contact_ids=("c1",)), page)
        assert [t["request_id"] for t in found] == ["caller-chosen-id"]
        async with store.db.transaction() as conn:
            if store.db.is_sqlite:
                partial = {r[0] for r in await conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%'"))}
                plan = " ".join(str(r[-1]) for r in await conn.execute(text(
                    "EXPLAIN QUERY PLAN SELECT id FROM traces WHERE request_id = 'x' "
                    "AND request_id != id")))
                assert "ix_traces_request_id" in plan
            else:
                partial = {r[0] for r in await conn.execute(text(
                    "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%WHERE%'"))}
        assert partial == {"ix_traces_request_id", "ix_traces_thread", "ix_traces_contact"}
    finally:
        await store.db.close()


async def test_the_migrated_indexes_are_the_ones_the_schema_declares(database_url: str) -> None:
    """Migrations and `schema.py` describe the same indexes, table by table: an index dropped
    by a migration (8: the model index no query used) is gone from both, and none is missing."""
    from waystation.store.schema import metadata

    db = Database(database_url)
    try:
        await drop_everything(db)
        await upgrade(db)
        async with db.transaction() as conn:
            found = await conn.run_sync(lambda c: {
                table: {i["name"] for i in inspect(c).get_indexes(table)
                        if not i.get("duplicates_constraint")}  # PostgreSQL's UNIQUE
                for table in ALL_TABLES if table != "schema_version"})
        declared = {table: {i.name for i in metadata.tables[table].indexes}
                    for table in found}
        assert found == declared
        assert "ix_traces_model" not in found["traces"]
        assert "ix_traces_created" in found["traces"]
    finally:
        await db.close()
