"""Identical misses in one process make one upstream call; a failed leader frees its waiters."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.cache.conftest import FakeClock
from waystation.cache.coalesce import CoalescingCache, Role, is_complete
from waystation.cache.memory import MemoryCache
from waystation.cache.replay import hit_completion, replay_chunks
from waystation.core.accumulate import StreamAccumulator

COMPLETION: dict[str, Any] = {
    "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def make_cache(clock: FakeClock, **kwargs: Any) -> CoalescingCache:
    return CoalescingCache(MemoryCache(max_entries=100, max_bytes=1 << 20, clock=clock),
                           **kwargs)


class Upstream:
    """A fake provider call that blocks until released, and counts how often it is called."""

    def __init__(self, value: bytes = b"answer", fail_first: bool = False) -> None:
        self.calls = 0
        self.value = value
        self.fail_first = fail_first
        self.release = asyncio.Event()

    async def __call__(self) -> tuple[bytes, bool]:
        self.calls += 1
        call = self.calls
        await self.release.wait()
        if self.fail_first and call == 1:
            raise RuntimeError("upstream failed")
        return self.value, True


async def settle() -> None:
    """Let every runnable task reach its next wait."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_concurrent_identical_misses_make_one_call(clock: FakeClock) -> None:
    cache = make_cache(clock)
    upstream = Upstream()
    tasks = [asyncio.create_task(cache.get_or_compute("k", upstream, 60)) for _ in range(20)]
    await settle()
    upstream.release.set()
    results = await asyncio.gather(*tasks)
    assert upstream.calls == 1
    assert {value for value, _ in results} == {b"answer"}
    assert sorted(hit for _, hit in results) == [False] + [True] * 19
    assert (cache.stats.leads, cache.stats.coalesced, cache.stats.hits) == (1, 19, 19)
    assert cache.in_flight == 0


async def test_later_callers_hit_the_stored_value(clock: FakeClock) -> None:
    cache = make_cache(clock)
    upstream = Upstream()
    upstream.release.set()
    assert await cache.get_or_compute("k", upstream, 60) == (b"answer", False)
    assert await cache.get_or_compute("k", upstream, 60) == (b"answer", True)
    assert upstream.calls == 1 and cache.stats.coalesced == 0


async def test_different_keys_are_not_coalesced(clock: FakeClock) -> None:
    cache = make_cache(clock)
    upstream = Upstream()
    tasks = [asyncio.create_task(cache.get_or_compute(f"k{i}", upstream, 60)) for i in range(3)]
    await settle()
    upstream.release.set()
    await asyncio.gather(*tasks)
    assert upstream.calls == 3


async def test_a_failed_leader_sends_its_waiters_upstream_themselves(clock: FakeClock) -> None:
    cache = make_cache(clock)
    upstream = Upstream(fail_first=True)
    tasks = [asyncio.create_task(cache.get_or_compute("k", upstream, 60)) for _ in range(4)]
    await settle()
    upstream.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], RuntimeError)  # only the leader sees its own error
    assert results[1:] == [(b"answer", False)] * 3
    assert upstream.calls == 4
    assert cache.stats.fallbacks == 3
    assert cache.in_flight == 0


async def test_an_uncacheable_answer_is_neither_stored_nor_shared(clock: FakeClock) -> None:
    cache = make_cache(clock)
    calls = 0
    gate = asyncio.Event()

    async def error_answer() -> tuple[bytes, bool]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return b'{"error": "rate limited"}', False

    tasks = [asyncio.create_task(cache.get_or_compute("k", error_answer, 60)) for _ in range(3)]
    await settle()
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 3 and all(hit is False for _, hit in results)
    assert await cache.backend.get("k") is None


async def test_a_cancelled_leader_frees_its_waiters(clock: FakeClock) -> None:
    cache = make_cache(clock)
    upstream = Upstream()
    leader = asyncio.create_task(cache.get_or_compute("k", upstream, 60))
    await settle()
    waiter = asyncio.create_task(cache.get_or_compute("k", upstream, 60))
    await settle()
    leader.cancel()
    await settle()
    assert upstream.calls == 2  # the waiter went upstream itself
    upstream.release.set()
    assert await waiter == (b"answer", False)
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_a_cancelled_waiter_does_not_disturb_the_others(clock: FakeClock) -> None:
    cache = make_cache(clock)
    upstream = Upstream()
    leader = asyncio.create_task(cache.get_or_compute("k", upstream, 60))
    await settle()
    quitter = asyncio.create_task(cache.get_or_compute("k", upstream, 60))
    stayer = asyncio.create_task(cache.get_or_compute("k", upstream, 60))
    await settle()
    quitter.cancel()
    await settle()
    upstream.release.set()
    assert await leader == (b"answer", False)
    assert await stayer == (b"answer", True)
    assert upstream.calls == 1


async def test_a_waiter_gives_up_after_max_wait(clock: FakeClock) -> None:
    cache = make_cache(clock, max_wait=0.05)
    upstream = Upstream()
    leader = asyncio.create_task(cache.get_or_compute("k", upstream, 60))
    await settle()
    async with cache.claim("k") as claim:
        assert claim.role is Role.ALONE and not claim.hit
    assert cache.stats.fallbacks == 1
    upstream.release.set()
    await leader


async def test_max_wait_zero_never_waits(clock: FakeClock) -> None:
    cache = make_cache(clock)
    upstream = Upstream()
    leader = asyncio.create_task(cache.get_or_compute("k", upstream, 60))
    await settle()
    async with cache.claim("k", max_wait=0) as claim:
        assert claim.role is Role.ALONE
    upstream.release.set()
    await leader


async def test_streaming_leader_and_waiter_through_claims(clock: FakeClock) -> None:
    """The streaming route: the leader streams live then stores; a waiter replays the result."""
    cache = make_cache(clock)
    stored = asyncio.Event()

    async def leader() -> None:
        async with cache.claim("k") as claim:
            assert claim.role is Role.LEAD and claim.value is None
            await stored.wait()  # ...streaming to its own client, accumulating...
            assert await claim.store(COMPLETION, 60)

    async def waiter() -> dict[str, Any]:
        async with cache.claim("k") as claim:
            assert claim.hit and claim.value is not None
            acc = StreamAccumulator()
            for chunk in replay_chunks(hit_completion(claim.value)):
                acc.add(chunk)
            return acc.result()

    lead = asyncio.create_task(leader())
    await settle()
    wait = asyncio.create_task(waiter())
    await settle()
    assert not wait.done()
    stored.set()
    await lead
    replayed = await wait
    assert replayed["choices"] == COMPLETION["choices"]
    assert replayed["usage"]["prompt_tokens_details"] == {"cached_tokens": 3}
    assert orjson.loads(await cache.backend.get("k") or b"null") == COMPLETION


async def test_an_incomplete_stream_is_refused_and_waiters_go_upstream(clock: FakeClock) -> None:
    cache = make_cache(clock)
    cut = {**COMPLETION, "choices": [{**COMPLETION["choices"][0], "finish_reason": None}]}
    async with cache.claim("k") as leader:
        waiting = asyncio.create_task(_role_of_next_claim(cache, "k"))
        await settle()
        assert not await leader.store(cut, 60)
    assert await waiting is Role.ALONE
    assert await cache.backend.get("k") is None


async def _role_of_next_claim(cache: CoalescingCache, key: str) -> Role:
    async with cache.claim(key) as claim:
        return claim.role


async def test_a_hit_cannot_store(clock: FakeClock) -> None:
    cache = make_cache(clock)
    await cache.backend.set("k", b"old", 60)
    async with cache.claim("k") as claim:
        assert claim.hit and claim.value == b"old"
        assert not await claim.store_bytes(b"new", 60)
    assert await cache.backend.get("k") == b"old"


async def test_a_zero_ttl_store_serves_waiters_without_caching(clock: FakeClock) -> None:
    cache = make_cache(clock)
    async with cache.claim("k") as leader:
        waiter = asyncio.create_task(cache.get_or_compute("k", Upstream(), 60))
        await settle()
        assert await leader.store_bytes(b"v", 0)
    assert await waiter == (b"v", True)
    assert await cache.backend.get("k") is None


def test_completeness() -> None:
    assert is_complete(COMPLETION)
    assert not is_complete({**COMPLETION, "choices": []})
    assert not is_complete({"choices": [{"finish_reason": "stop"}, {"finish_reason": None}]})
    assert not is_complete({"error": {"message": "x"}})
