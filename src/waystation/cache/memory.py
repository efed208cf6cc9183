"""The in-process response cache: a bounded LRU with a time to live per entry.

The default when no Redis is configured. It is bounded twice, by entry count and by total
bytes, because completions vary from a few hundred bytes to megabytes: a count alone would let
a few large answers take the process's memory, a byte budget alone would let many tiny ones
grow the dict without bound. Expired entries are dropped when read or when they reach the
least-recently-used end; the clock is injected so tests move time instead of sleeping.
"""

from __future__ import annotations

from collections import OrderedDict

from waystation.cache.base import CacheStats
from waystation.clock import Clock

ENTRY_OVERHEAD = 64
"""Bytes counted per entry beyond key and value, so that a flood of empty values still counts."""


class MemoryCache:
    """`ResponseCache` in this process's memory; lost on restart, not shared between workers."""

    def __init__(
        self, *, max_entries: int, max_bytes: int, clock: Clock | None = None
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a memory cache needs room for at least one entry and one byte")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._clock = clock or Clock()
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        value, expires = entry
        if self._clock.monotonic() >= expires:
            self._drop(key)
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl <= 0:
            return
        cost = _cost(key, value)
        if cost > self.max_bytes:
            return  # larger than the whole budget: storing it would evict everything else
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (value, self._clock.monotonic() + ttl)
        self._bytes += cost
        self.stats.stores += 1
        self._evict()

    async def close(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            key = next(iter(self._entries))
            self._drop(key)
            self.stats.evictions += 1

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._bytes -= _cost(key, value)


def _cost(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD
