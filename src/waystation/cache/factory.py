"""The response cache a deployment uses, built from its settings (no I/O until first use).

Redis when `WAYSTATION_REDIS_URL` is set — shared by every worker and replica, with the
cross-replica leader lock — else the in-process LRU bounded by `cache_max_entries` and
`cache_max_bytes`. The backend and the lock share one client and one health record: they talk
to the same server, so one outage is logged and backed off once.
"""

from __future__ import annotations

from waystation.cache.coalesce import CoalescingCache
from waystation.cache.health import BackendHealth
from waystation.cache.memory import MemoryCache
from waystation.clock import Clock
from waystation.config.settings import Settings


def build_cache(
    settings: Settings, *, clock: Clock | None = None, prefix: str | None = None
) -> CoalescingCache:
    clock = clock or Clock()
    if settings.redis_url:
        # imported here: the redis client costs ~20 MiB that a single-node deployment never uses
        from waystation.cache.lock import RedisLock
        from waystation.cache.redis import DEFAULT_PREFIX, RedisCache, redis_client

        prefix = DEFAULT_PREFIX if prefix is None else prefix
        client = redis_client(settings.redis_url)
        health = BackendHealth("Redis response cache", clock=clock)
        return CoalescingCache(
            RedisCache(client, prefix=prefix, health=health),
            lock=RedisLock(client, prefix=prefix + "lock:", health=health),
        )
    memory = MemoryCache(
        max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes, clock=clock
    )
    return CoalescingCache(memory)
