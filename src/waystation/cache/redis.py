"""The shared response cache on Redis, for several workers or replicas.

Entries live under a key prefix and expire on the server (`SET … PX`), so nothing here keeps
state that could drift from Redis. The client is injected (tests point it anywhere; the factory
builds a pooled one with short socket timeouts and no command retries), because the cache must
answer within a few milliseconds or not at all: a slow or absent Redis costs a miss, never a
failed or stalled request. Failures are counted in `stats.errors`, logged at a bounded rate and
trigger a short back-off (see `health.BackendHealth`); the next successful call ends the
outage by itself.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from waystation.cache.base import CacheStats
from waystation.cache.health import BackendHealth

DEFAULT_PREFIX = "waystation:cache:"


def redis_client(
    url: str,
    *,
    max_connections: int = 64,
    socket_timeout: float = 0.5,
    connect_timeout: float = 0.25,
) -> Redis:
    """A pooled client that fails fast: short timeouts, a bounded pool, one retry at most.

    A command is retried once, at once, only when its connection broke (a pooled socket left
    stale by a Redis restart reconnects that way); a timeout is never retried, so a slow server
    costs one `socket_timeout`. The pool blocks for at most `socket_timeout` when all its
    connections are busy, then fails (a miss) instead of opening connections without limit.
    Nothing connects until the first command, so building a client at start-up does no I/O.
    """
    pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return Redis.from_pool(pool)


class RedisCache:
    """`ResponseCache` on a Redis server; values are stored as given, under `prefix + key`."""

    def __init__(
        self, client: Redis, *, prefix: str = DEFAULT_PREFIX, health: BackendHealth | None = None
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.health = health or BackendHealth("Redis response cache")
        self.stats = CacheStats()

    async def get(self, key: str) -> bytes | None:
        if not self.health.should_try():
            self.stats.skipped += 1
            self.stats.misses += 1
            return None
        try:
            value: Any = await self.client.get(self.prefix + key)
        except Exception as exc:  # any failure of the cache is a miss, never the caller's error
            self._failed(exc)
            self.stats.misses += 1
            return None
        self.health.succeeded()
        if value is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return bytes(value)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        millis = int(ttl * 1000)
        if millis <= 0:
            return
        if not self.health.should_try():
            self.stats.skipped += 1
            return
        try:
            await self.client.set(self.prefix + key, value, px=millis)
        except Exception as exc:
            self._failed(exc)
            return
        self.health.succeeded()
        self.stats.stores += 1

    async def close(self) -> None:
        try:
            await self.client.aclose()
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.stats.errors += 1
        self.health.failed(exc)
