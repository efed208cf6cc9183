"""The store's own asyncio engine: transactions, clean-up under cancellation, the driver's
connection, and what it spares the start (no ORM, no other database's dialect)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from waystation.store.database import Database
from waystation.store.engine import create_async_engine


@pytest.fixture
async def scratch(database_url: str) -> AsyncIterator[tuple[Database, str]]:
    """A database with an empty table of its own (PostgreSQL's is shared by the run)."""
    db = Database(database_url)
    table = f"scratch_{uuid.uuid4().hex[:12]}"
    async with db.transaction() as conn:
        await conn.execute(text(f"CREATE TABLE {table} (n INTEGER)"))
    try:
        yield db, table
    finally:
        async with db.transaction() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))
        await db.close()


async def _count(db: Database, table: str) -> int:
    async with db.transaction() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_transaction_commits_at_its_end_and_rolls_back_when_it_raises(
    scratch: tuple[Database, str],
) -> None:
    db, table = scratch
    async with db.transaction() as conn:
        await conn.execute(text(f"INSERT INTO {table} (n) VALUES (:n)"), [{"n": 1}, {"n": 2}])
    with pytest.raises(RuntimeError, match="half-way"):
        async with db.transaction() as conn:
            await conn.execute(text(f"INSERT INTO {table} (n) VALUES (3)"))
            raise RuntimeError("half-way")
    assert await _count(db, table) == 2
    async with db.transaction() as conn:
        found = (await conn.execute(text(f"SELECT n FROM {table} ORDER BY n"))).all()
    assert [tuple(row) for row in found] == [(1,), (2,)]


async def test_a_cancelled_caller_still_gives_its_connection_back(
    scratch: tuple[Database, str],
) -> None:
    db, table = scratch
    inside = asyncio.Event()

    async def hold() -> None:
        async with db.transaction() as conn:
            await conn.execute(text(f"INSERT INTO {table} (n) VALUES (7)"))
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(hold())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _count(db, table) == 0  # the cancelled transaction was rolled back


async def test_the_drivers_own_connection_and_invalidating_it(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            first = (await conn.get_raw_connection()).driver_connection
            assert type(first).__module__.split(".")[0] == (
                "aiosqlite" if db.is_sqlite else "asyncpg")
            await conn.invalidate()
        async with db.engine.connect() as conn:
            second = (await conn.get_raw_connection()).driver_connection
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        assert second is not first
    finally:
        await db.close()


class _WorkerThatCannotClose:
    async def close(self) -> None:
        raise OSError("disk gone")


async def test_the_pool_is_closed_even_when_the_sqlite_worker_cannot_close(
        tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with db.transaction() as conn:
        await conn.execute(text("SELECT 1"))
    pool = db.engine.sync_engine.pool
    assert pool.checkedin() == 1  # type: ignore[attr-defined]
    db._sqlite_worker = _WorkerThatCannotClose()  # type: ignore[assignment]
    with pytest.raises(OSError, match="disk gone"):
        await db.close()
    assert pool.checkedin() == 0  # type: ignore[attr-defined]
    assert db._sqlite_worker is None


def test_a_driver_without_asyncio_is_refused_in_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'pysqlite' does not support asyncio; use "):
        create_async_engine(f"sqlite+pysqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="does not support asyncio"):
        Database(f"sqlite+pysqlite:///{tmp_path / 'y.db'}")


# What `waystation serve` imports, then a new SQLite store migrated, a trace written and read.
_SQLITE_GATEWAY = """
import asyncio, json, sys
import waystation.cli.main, waystation.server.factory
from tests.store import sample
from waystation.store import Store
from waystation.store.pagination import PageRequest
from waystation.store.trace_rows import RecordedTrace
from waystation.store.traces import TraceFilter

async def main():
    store = Store.open(sys.argv[1])
    await store.db.ensure_schema()
    await store.sink.write([RecordedTrace(sample.trace())])
    found, _more = await store.traces.list(TraceFilter(), PageRequest())
    await store.db.close()
    return len(found)

written = asyncio.run(main())
loaded = [m for m in ("sqlalchemy.orm", "sqlalchemy.ext.asyncio",
                      "sqlalchemy.dialects.postgresql") if m in sys.modules]
print(json.dumps({"written": written, "loaded": loaded}))
"""


def test_an_sqlite_gateway_loads_neither_the_orm_nor_postgresqls_dialect(tmp_path: Path) -> None:
    """Both are a large share of the start (bench/RESULTS.md) and neither is used with SQLite."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'waystation.db'}"
    done = subprocess.run([sys.executable, "-c", _SQLITE_GATEWAY, url], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).parents[2], check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"written": 1, "loaded": []}
