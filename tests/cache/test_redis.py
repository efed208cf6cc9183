"""The Redis backend against the real server; an outage is a miss, logged, counted, and healed.

Needs Redis on 127.0.0.1:6379 (see conftest for how to start it); each test uses its own key
prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from tests.cache.conftest import REDIS_URL, FakeClock
from tests.cache.tcp_proxy import TcpProxy, free_port
from waystation.cache.base import ResponseCache
from waystation.cache.coalesce import CoalescingCache
from waystation.cache.health import BackendHealth
from waystation.cache.lock import UNLOCKED, RedisLock
from waystation.cache.redis import RedisCache

MakeRedis = Callable[..., Redis]


def redis_cache(client: Redis, prefix: str, clock: FakeClock | None = None) -> RedisCache:
    return RedisCache(client, prefix=prefix, health=BackendHealth("Redis test cache", clock=clock))


def cache_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "waystation.cache"]


async def test_it_is_a_response_cache(make_redis: MakeRedis, redis_prefix: str) -> None:
    assert isinstance(redis_cache(make_redis(), redis_prefix), ResponseCache)


async def test_a_stored_value_is_a_hit_under_the_prefix(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    client = make_redis()
    cache = redis_cache(client, redis_prefix)
    await cache.set("abc", b"\x00value\xff", 60)
    assert await cache.get("abc") == b"\x00value\xff"
    assert await cache.get("missing") is None
    assert await client.get(redis_prefix + "abc") == b"\x00value\xff"
    assert 59_000 < await client.pttl(redis_prefix + "abc") <= 60_000
    assert (cache.stats.hits, cache.stats.misses, cache.stats.stores, cache.stats.errors) == (
        1, 1, 1, 0)


async def test_two_prefixes_do_not_see_each_other(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    client = make_redis()
    await redis_cache(client, redis_prefix + "a:").set("k", b"a", 60)
    assert await redis_cache(client, redis_prefix + "b:").get("k") is None


async def test_an_entry_expires_after_its_ttl_on_the_server(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    cache = redis_cache(make_redis(), redis_prefix)
    await cache.set("k", b"v", 1)
    await cache.set("kept", b"v", 60)
    assert await cache.get("k") == b"v"
    await asyncio.sleep(1.2)
    assert await cache.get("k") is None
    assert await cache.get("kept") == b"v"


async def test_sub_second_and_zero_ttls(make_redis: MakeRedis, redis_prefix: str) -> None:
    client = make_redis()
    cache = redis_cache(client, redis_prefix)
    await cache.set("fraction", b"v", 0.5)
    assert 0 < await client.pttl(redis_prefix + "fraction") <= 500
    await cache.set("zero", b"v", 0)
    assert await client.exists(redis_prefix + "zero") == 0


async def test_an_unreachable_redis_is_a_logged_counted_miss(
    make_redis: MakeRedis, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="waystation.cache")
    cache = redis_cache(make_redis(f"redis://127.0.0.1:{free_port()}/0"), "p:", clock)
    assert await cache.get("k") is None
    await cache.set("k", b"v", 60)       # backed off: not even tried
    assert await cache.get("k") is None  # likewise
    assert (cache.stats.errors, cache.stats.skipped, cache.stats.misses) == (1, 2, 2)
    clock.advance(cache.health.retry_interval)
    await cache.set("k", b"v", 60)       # the next probe fails again
    assert cache.stats.errors == 2
    logs = cache_logs(caplog)
    assert len(logs) == 1 and "Redis test cache unreachable" in logs[0]
    await cache.close()


async def test_the_cache_recovers_by_itself_when_redis_comes_back(
    make_redis: MakeRedis, redis_prefix: str, clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="waystation.cache")
    target = urlsplit(REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    try:
        cache = redis_cache(make_redis(proxy.url), redis_prefix, clock)
        await cache.set("k", b"v", 60)
        assert await cache.get("k") == b"v"

        await proxy.stop()                  # Redis goes away, pooled connections break
        assert await cache.get("k") is None
        assert cache.stats.errors == 1 and cache.health.down

        await proxy.start()                 # back, on the same address
        clock.advance(cache.health.retry_interval)
        assert await cache.get("k") == b"v"
        assert not cache.health.down
        assert cache_logs(caplog)[-1] == "Redis test cache reachable again after 1 failure(s)"
    finally:
        await proxy.stop()


async def test_the_lock_degrades_to_leading_without_a_lock(
    make_redis: MakeRedis, clock: FakeClock
) -> None:
    lock = RedisLock(make_redis(f"redis://127.0.0.1:{free_port()}/0"), prefix="p:lock:",
                     health=BackendHealth("Redis test lock", clock=clock))
    assert await lock.acquire("k") == UNLOCKED
    assert await lock.held("k") is False
    await lock.release("k", UNLOCKED)


async def test_lock_acquire_is_exclusive_and_release_needs_the_token(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    lock = RedisLock(make_redis(), prefix=redis_prefix + "lock:", ttl=5)
    token = await lock.acquire("k")
    assert token
    assert await lock.acquire("k") is None
    await lock.release("k", "not-the-token")
    assert await lock.held("k")
    assert not await lock.refresh("k", "not-the-token")
    assert await lock.refresh("k", token)
    await lock.release("k", token)
    assert not await lock.held("k")
    assert await lock.acquire("k")


async def test_requests_still_succeed_and_coalesce_while_redis_is_down(
    make_redis: MakeRedis, clock: FakeClock
) -> None:
    client = make_redis(f"redis://127.0.0.1:{free_port()}/0")
    health = BackendHealth("Redis test cache", clock=clock)
    cache = CoalescingCache(
        RedisCache(client, prefix="p:", health=health),
        lock=RedisLock(client, prefix="p:lock:", health=health),
    )
    calls = 0
    gate = asyncio.Event()

    async def compute() -> tuple[bytes, bool]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return b"answer", True

    tasks = [asyncio.create_task(cache.get_or_compute("k", compute, 60)) for _ in range(5)]
    for _ in range(20):
        await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert {value for value, _ in results} == {b"answer"}
    assert calls == 1
    assert cache.backend.stats.errors >= 1
