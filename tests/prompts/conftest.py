"""Fixtures of the stored-prompt tests: the store on SQLite and PostgreSQL, and gateways on both.

The store fixtures are the ones every store test uses (`tests/store/conftest.py`); the gateway
fixture starts a gateway in front of the fake OpenAI server on an empty database of either
engine, as the management API tests do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.store.conftest import database_url, empty, store
from tests.store.postgres import postgres_url, require
from waystation.store.database import Database

__all__ = ["database_url", "postgres_url", "store"]


@pytest.fixture(params=["sqlite", "postgres"])
def gw(request: pytest.FixtureRequest, start_gateway: Callable[[dict[str, str]], RunningGateway],
       fake_openai: FakeOpenAI, tmp_path: Path) -> RunningGateway:
    """A gateway whose database is empty, on each engine."""
    extra = {}
    if request.param == "postgres":
        url = require(request.getfixturevalue("postgres_url"))
        asyncio.run(_emptied(url))
        extra["WAYSTATION_DATABASE_URL"] = url
    return start_gateway(gateway_env(fake_openai, tmp_path / "home", **extra))


async def _emptied(url: str) -> None:
    db = Database(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await empty(db)
    finally:
        await db.close()


def call(gw: RunningGateway, method: str, path: str, **kw: object) -> httpx.Response:
    """One management call with the gateway's key."""
    return httpx.request(method, gw.url + path, headers={"Authorization": f"Bearer {gw.key}"},
                         timeout=30, **kw)  # type: ignore[arg-type]
