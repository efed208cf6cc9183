"""The in-process cache: hits, misses, expiry on a fake clock, LRU eviction by count and bytes."""

from __future__ import annotations

import pytest

from tests.cache.conftest import FakeClock
from waystation.cache.base import ResponseCache
from waystation.cache.memory import ENTRY_OVERHEAD, MemoryCache


def cache(clock: FakeClock, entries: int = 100, size: int = 1 << 20) -> MemoryCache:
    return MemoryCache(max_entries=entries, max_bytes=size, clock=clock)


def test_it_is_a_response_cache(clock: FakeClock) -> None:
    assert isinstance(cache(clock), ResponseCache)


async def test_a_stored_value_is_a_hit_and_an_unknown_key_a_miss(clock: FakeClock) -> None:
    c = cache(clock)
    await c.set("k", b"value", 60)
    assert await c.get("k") == b"value"
    assert await c.get("other") is None
    assert (c.stats.hits, c.stats.misses, c.stats.stores) == (1, 1, 1)


async def test_an_entry_expires_after_its_ttl(clock: FakeClock) -> None:
    c = cache(clock)
    await c.set("short", b"a", 10)
    await c.set("long", b"b", 1800)
    clock.advance(9.9)
    assert await c.get("short") == b"a"
    clock.advance(0.1)
    assert await c.get("short") is None
    assert await c.get("long") == b"b"
    assert len(c) == 1
    clock.advance(1790)
    assert await c.get("long") is None
    assert len(c) == 0 and c.size_bytes == 0


async def test_a_non_positive_ttl_stores_nothing(clock: FakeClock) -> None:
    c = cache(clock)
    await c.set("k", b"v", 0)
    await c.set("k2", b"v", -1)
    assert len(c) == 0 and await c.get("k") is None


async def test_setting_again_replaces_value_and_ttl(clock: FakeClock) -> None:
    c = cache(clock)
    await c.set("k", b"old", 10)
    await c.set("k", b"newer", 100)
    clock.advance(50)
    assert await c.get("k") == b"newer"
    assert len(c) == 1
    assert c.size_bytes == len("k") + len(b"newer") + ENTRY_OVERHEAD


async def test_the_least_recently_used_entry_goes_first_when_full(clock: FakeClock) -> None:
    c = cache(clock, entries=3)
    for key in ("a", "b", "c"):
        await c.set(key, key.encode(), 60)
    assert await c.get("a") == b"a"  # now "b" is the least recently used
    await c.set("d", b"d", 60)
    assert await c.get("b") is None
    assert [await c.get(k) for k in ("a", "c", "d")] == [b"a", b"c", b"d"]
    assert c.stats.evictions == 1 and len(c) == 3


async def test_the_byte_budget_evicts_as_many_entries_as_needed(clock: FakeClock) -> None:
    entry = 1 + 100 + ENTRY_OVERHEAD
    c = cache(clock, entries=100, size=3 * entry)
    for key in ("a", "b", "c"):
        await c.set(key, b"x" * 100, 60)
    assert len(c) == 3 and c.size_bytes == 3 * entry
    await c.set("z", b"y" * 350, 60)  # costs more than two entries: all three must go
    assert len(c) == 1 and await c.get("z") == b"y" * 350
    assert c.stats.evictions == 3
    assert c.size_bytes <= c.max_bytes


async def test_a_value_larger_than_the_budget_is_not_stored(clock: FakeClock) -> None:
    c = cache(clock, size=1000)
    await c.set("small", b"s", 60)
    await c.set("huge", b"h" * 1000, 60)
    assert await c.get("huge") is None
    assert await c.get("small") == b"s"


async def test_close_empties_it(clock: FakeClock) -> None:
    c = cache(clock)
    await c.set("k", b"v", 60)
    await c.close()
    assert len(c) == 0 and c.size_bytes == 0


def test_bounds_must_leave_room() -> None:
    with pytest.raises(ValueError):
        MemoryCache(max_entries=0, max_bytes=10)
    with pytest.raises(ValueError):
        MemoryCache(max_entries=10, max_bytes=0)
