"""Coalescing across replicas: two caches sharing one Redis make one upstream call per burst.

Each `CoalescingCache` here has its own client, as two gateway processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis

from waystation.cache.coalesce import CoalescingCache, Role
from waystation.cache.lock import RedisLock
from waystation.cache.redis import RedisCache

MakeRedis = Callable[..., Redis]


def replica(make_redis: MakeRedis, prefix: str, *, lock_ttl: float = 10.0,
            max_wait: float = 10.0) -> CoalescingCache:
    client = make_redis()
    return CoalescingCache(
        RedisCache(client, prefix=prefix),
        lock=RedisLock(client, prefix=prefix + "lock:", ttl=lock_ttl),
        max_wait=max_wait,
        poll_interval=0.01,
    )


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self) -> tuple[bytes, bool]:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return b"answer", True


async def test_identical_misses_on_two_replicas_make_one_call(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    a, b = replica(make_redis, redis_prefix), replica(make_redis, redis_prefix)
    upstream = Upstream()
    tasks = [asyncio.create_task(c.get_or_compute("k", upstream, 60))
             for _ in range(10) for c in (a, b)]
    await upstream.started.wait()
    await asyncio.sleep(0.05)  # let the other replica find the lock and start polling
    upstream.release.set()
    results = await asyncio.gather(*tasks)
    assert upstream.calls == 1
    assert {value for value, _ in results} == {b"answer"}
    assert sum(hit for _, hit in results) == 19
    assert a.stats.leads + b.stats.leads == 1
    assert a.stats.fallbacks + b.stats.fallbacks == 0


async def test_a_replica_that_leads_hands_its_answer_to_the_other(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    a, b = replica(make_redis, redis_prefix), replica(make_redis, redis_prefix)
    async with a.claim("k") as leader:
        assert leader.role is Role.LEAD
        waiting = asyncio.create_task(_claim_value(b, "k"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await leader.store_bytes(b"answer", 60)
    assert await waiting == (Role.HIT, b"answer")
    assert b.stats.coalesced == 1


async def test_a_failed_leader_on_another_replica_frees_the_waiters(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    a, b = replica(make_redis, redis_prefix), replica(make_redis, redis_prefix)
    async with a.claim("k") as leader:
        assert leader.role is Role.LEAD
        waiting = asyncio.create_task(_claim_value(b, "k"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
    # the leader left without storing (an upstream error): the lock is released
    assert await waiting == (Role.ALONE, None)
    assert b.stats.fallbacks == 1


async def test_a_crashed_leader_is_detected_when_its_lock_expires(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    """A process that dies holding the lock never releases it; its short ttl frees the key."""
    b = replica(make_redis, redis_prefix, max_wait=30)
    dead = RedisLock(make_redis(), prefix=redis_prefix + "lock:", ttl=0.3)
    assert await dead.acquire("k")
    assert await _claim_value(b, "k") == (Role.ALONE, None)


async def test_the_heartbeat_keeps_a_long_leader_in_charge(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    """A generation longer than the lock ttl keeps the lock: the waiter still gets the value."""
    a = replica(make_redis, redis_prefix, lock_ttl=0.6)  # refreshed every 0.2 s
    b = replica(make_redis, redis_prefix, max_wait=30)
    async with a.claim("k") as leader:
        waiting = asyncio.create_task(_claim_value(b, "k"))
        await asyncio.sleep(2.0)  # more than three lock ttls
        assert not waiting.done()
        await leader.store_bytes(b"late answer", 60)
    assert await waiting == (Role.HIT, b"late answer")


async def test_a_waiting_replica_gives_up_after_max_wait(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    a = replica(make_redis, redis_prefix)
    b = replica(make_redis, redis_prefix, max_wait=0.1)
    async with a.claim("k") as leader:
        assert leader.role is Role.LEAD
        assert await _claim_value(b, "k") == (Role.ALONE, None)


async def test_the_lock_is_released_once_the_value_is_stored(
    make_redis: MakeRedis, redis_prefix: str
) -> None:
    a = replica(make_redis, redis_prefix)
    lock = a.lock
    assert lock is not None
    async with a.claim("k") as leader:
        assert await lock.held("k")
        await leader.store_bytes(b"v", 60)
        assert not await lock.held("k")


async def _claim_value(cache: CoalescingCache, key: str) -> tuple[Role, bytes | None]:
    async with cache.claim(key) as claim:
        return claim.role, claim.value
