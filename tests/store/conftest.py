"""Every store test runs twice: on an SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.store.postgres import postgres_url, require
from waystation.store import Store
from waystation.store.database import Database
from waystation.store.schema import ALL_TABLES

__all__ = ["postgres_url"]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'waystation.db'}"
    return require(request.getfixturevalue("postgres_url")).replace(
        "postgresql://", "postgresql+asyncpg://", 1)


async def empty(db: Database) -> None:
    """Migrated, with no rows (PostgreSQL's database is shared by the run's tests)."""
    await db.ensure_schema()
    if not db.is_sqlite:
        tables = ", ".join(t for t in ALL_TABLES if t != "schema_version")
        async with db.transaction() as conn:
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store.open(database_url)
    await empty(store.db)
    yield store
    await store.db.close()
