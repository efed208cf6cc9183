"""A throw-away PostgreSQL database for one test run, on the machine's server.

The tests run against the PostgreSQL on 127.0.0.1:5432 (trust auth; see the CI services
notes), or the admin URL in `WAYSTATION_TEST_POSTGRES_URL`. A fresh database is created for the
run and dropped at its end. Without a reachable server the PostgreSQL tests skip, and the
reason says how to enable them (under CI=true a skip counts as a failure).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator

import pytest

HOW_TO_ENABLE = (
    "PostgreSQL is not reachable on 127.0.0.1:5432: start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "or set WAYSTATION_TEST_POSTGRES_URL=postgresql://user@host:port/db to an admin URL"
)
_CANDIDATES = ("postgresql://postgres@127.0.0.1:5432/postgres",
               "postgresql://root@127.0.0.1:5432/postgres",
               "postgresql://postgres@127.0.0.1:5432/test")


async def _admin_url() -> str | None:
    import asyncpg

    given = os.environ.get("WAYSTATION_TEST_POSTGRES_URL")
    for url in ((given,) if given else _CANDIDATES):
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            continue
        await conn.close()
        return url
    return None


async def _run(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """`postgresql://…` of a database made for this run (None: no server to make it on)."""
    admin = asyncio.run(_admin_url())
    if admin is None:
        yield None
        return
    name = f"waystation_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_run(admin, f'CREATE DATABASE "{name}"'))
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_run(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def require(url: str | None) -> str:
    if url is None:
        pytest.skip(HOW_TO_ENABLE)
    return url
