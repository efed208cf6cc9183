"""Settings choose the backend: Redis when WAYSTATION_REDIS_URL is set, else bounded memory."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from tests.cache.conftest import REDIS_URL
from waystation.cache import build_cache
from waystation.cache.lock import RedisLock
from waystation.cache.memory import MemoryCache
from waystation.cache.redis import RedisCache
from waystation.config.settings import ConfigError, load_settings


async def test_without_a_redis_url_the_cache_is_in_process_memory() -> None:
    cache = build_cache(load_settings({
        "WAYSTATION_CACHE_MAX_ENTRIES": "12", "WAYSTATION_CACHE_MAX_BYTES": "3456",
    }))
    assert isinstance(cache.backend, MemoryCache) and cache.lock is None
    assert (cache.backend.max_entries, cache.backend.max_bytes) == (12, 3456)
    await cache.close()


def test_memory_bounds_have_defaults() -> None:
    settings = load_settings({})
    assert settings.cache_max_entries == 10_000
    assert settings.cache_max_bytes == 256 * 1024 * 1024


def test_a_bound_that_is_not_a_number_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a number"):
        load_settings({"WAYSTATION_CACHE_MAX_ENTRIES": "many"})


async def test_with_a_redis_url_backend_and_lock_share_redis(
    make_redis: Callable[..., Redis], redis_prefix: str
) -> None:
    settings = load_settings({"WAYSTATION_REDIS_URL": REDIS_URL})
    cache = build_cache(settings, prefix=redis_prefix)
    try:
        assert isinstance(cache.backend, RedisCache)
        assert isinstance(cache.lock, RedisLock)
        assert cache.lock.client is cache.backend.client
        assert cache.lock.prefix == redis_prefix + "lock:"
        value, hit = await cache.get_or_compute("k", _answer, 60)
        assert (value, hit) == (b"answer", False)
        assert await cache.get_or_compute("k", _answer, 60) == (b"answer", True)
    finally:
        await cache.close()


def test_building_does_no_io() -> None:
    """Nothing listens on this port; building must not notice."""
    build_cache(load_settings({"WAYSTATION_REDIS_URL": "redis://127.0.0.1:1/0"}))


async def _answer() -> tuple[bytes, bool]:
    return b"answer", True
