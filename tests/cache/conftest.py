"""Fixtures for the cache tests: a movable clock, and Redis under a prefix no one else uses.

The Redis tests need the server the development and CI machines run on 127.0.0.1:6379; when it
is not there they skip and say how to start it (under CI=true a skip fails the run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis
from redis.asyncio import Redis

from waystation.cache.redis import redis_client
from waystation.clock import Clock

REDIS_URL = os.environ.get("WAYSTATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:12]
START_REDIS = (
    "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
)


class FakeClock(Clock):
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        super().__init__()
        self.t = start

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _redis_unreachable() -> str | None:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5) as r:
            r.ping()
    except redis.RedisError as exc:
        return (
            f"Redis is not reachable at {REDIS_URL} ({exc}); start it with `{START_REDIS}` "
            "or point WAYSTATION_TEST_REDIS_URL at one to run these tests"
        )
    return None


@pytest.fixture(scope="session")
def redis_available() -> None:
    reason = _redis_unreachable()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def redis_prefix(redis_available: None) -> Iterator[str]:
    """A key prefix unique to this run and test; its keys are deleted afterwards."""
    prefix = f"waystation-test:{RUN_ID}:{uuid.uuid4().hex[:8]}:"
    yield prefix
    with redis.Redis.from_url(REDIS_URL) as r:
        keys = list(r.scan_iter(match=prefix + "*", count=500))
        if keys:
            r.delete(*keys)


@pytest.fixture
async def make_redis() -> AsyncIterator[Callable[..., Redis]]:
    """Build pooled clients the way the gateway does; all are closed after the test.

    Building needs no server: the outage tests point clients at closed ports. Tests that need
    the real server also take `redis_prefix`, which skips when it is unreachable.
    """
    clients: list[Redis] = []

    def make(url: str = REDIS_URL, **kwargs: float) -> Redis:
        client = redis_client(url, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
