"""The one interface every response-cache backend offers, and the counters it keeps.

A backend stores opaque bytes under a key for a while. It never raises for its own failures:
the cache is an optimisation, so a broken backend must degrade to misses, never to errors a
caller sees. That is why `get` answers `None` and `set` returns nothing on failure, and why the
failures show up only in `stats.errors` and the logs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable


@dataclass(slots=True)
class CacheStats:
    """Counters of backend operations since start (a poll while waiting counts as a lookup)."""

    hits: int = 0
    misses: int = 0
    errors: int = 0
    """Operations that failed (the backend unreachable, a timeout); each was served as a miss."""
    skipped: int = 0
    """Operations not attempted because the backend was marked down a moment ago."""
    stores: int = 0
    evictions: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@runtime_checkable
class ResponseCache(Protocol):
    """Bytes by key with a time to live; failures become misses, never exceptions."""

    stats: CacheStats

    async def get(self, key: str) -> bytes | None:
        """The stored value, or None when absent, expired or unreachable."""
        ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store `value` for `ttl` seconds; a non-positive ttl stores nothing."""
        ...

    async def close(self) -> None:
        """Release connections; the cache is not used afterwards."""
        ...
