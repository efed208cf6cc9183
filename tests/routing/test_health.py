"""Model health: cooldown after repeated failures, probing after it, shared through Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from waystation.routing.health import LocalHealth, RedisHealth

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeNow:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_model_is_cooled_after_consecutive_failures_then_probed() -> None:
    now = FakeNow()
    health = LocalHealth(failures=3, cooldown=30, now=now)
    for _ in range(2):
        health.report("m", ok=False)
    assert not health.is_cooled("m")
    health.report("m", ok=False)
    assert health.is_cooled("m")
    now.t += 31
    assert not health.is_cooled("m")  # the cooldown is over: it may be probed
    health.report("m", ok=False)  # the probe failed: cooled again at once
    assert health.is_cooled("m")
    now.t += 31
    health.report("m", ok=True)
    health.report("m", ok=False)
    assert not health.is_cooled("m")  # a success resets the count


def test_successes_in_between_keep_a_model_healthy() -> None:
    health = LocalHealth(failures=2, cooldown=30, now=FakeNow())
    for _ in range(10):
        health.report("m", ok=False)
        health.report("m", ok=True)
    assert not health.is_cooled("m")


async def _redis_available() -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def test_health_is_shared_between_replicas_through_redis() -> None:
    if not await _redis_available():
        pytest.skip("Redis is not reachable on 127.0.0.1:6379; start it (see "
                    "../shared/ci/services.md or `redis-server --port 6379`) to run this test")
    prefix = f"ws:test:{uuid.uuid4().hex}:"
    one = RedisHealth(REDIS_URL, failures=2, cooldown=5, refresh=0.05, prefix=prefix)
    two = RedisHealth(REDIS_URL, failures=2, cooldown=5, refresh=0.05, prefix=prefix)
    await one.start()
    await two.start()
    try:
        one.report("openai/gpt-x", ok=False)
        one.report("openai/gpt-x", ok=False)
        for _ in range(100):
            if two.is_cooled("openai/gpt-x"):
                break
            await asyncio.sleep(0.05)
        assert two.is_cooled("openai/gpt-x")
        assert not two.is_cooled("openai/other")
        one.report("openai/gpt-x", ok=True)
        for _ in range(100):
            if not two.is_cooled("openai/gpt-x"):
                break
            await asyncio.sleep(0.05)
        assert not two.is_cooled("openai/gpt-x")
    finally:
        await one.close()
        await two.close()


async def test_redis_outage_leaves_local_health_working() -> None:
    health = RedisHealth("redis://127.0.0.1:1/0", failures=1, cooldown=30, refresh=0.05)
    await health.start()
    try:
        health.report("m", ok=False)
        await asyncio.sleep(0.2)  # several failed pulls: the local view is kept
        assert health.is_cooled("m")
        assert not health.is_cooled("other")
    finally:
        await health.close()


class _SwallowingPulls(RedisHealth):
    """A Redis client can turn a cancellation that lands inside a call into an error of its own
    (or let the call finish); `_pull` then takes it for an outage and returns normally. This
    one does so once (a later cancellation ends the loop, so a failing test still ends)."""

    swallowed = 0

    async def _pull(self) -> None:
        try:
            await asyncio.sleep(0.2)  # stands for a slow Redis call
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1


async def test_close_returns_when_a_pull_swallows_the_cancellation() -> None:
    health = _SwallowingPulls("redis://127.0.0.1:1/0", failures=1, cooldown=30, refresh=0.01)
    await health.start()
    await asyncio.sleep(0.05)  # the loop is inside a pull now
    closing = asyncio.create_task(health.close())
    done, _ = await asyncio.wait({closing}, timeout=5)
    assert health.swallowed == 1
    assert done, "close() waited for a refresh loop that went on"
