"""The exact-match response cache: keys, backends, coalescing of misses, replay of hits.

What the chat route needs is re-exported here; `coalesce` explains how the pieces fit.
"""

from waystation.cache.base import CacheStats, ResponseCache
from waystation.cache.coalesce import Claim, CoalescingCache, Role, is_complete
from waystation.cache.factory import build_cache
from waystation.cache.keys import cache_key
from waystation.cache.policy import DEFAULT_TTL, MAX_TTL, requested_ttl, ttl_seconds
from waystation.cache.replay import hit_completion, replay_chunks, usage_on_hit

CACHE_HEADER = b"x-waystation-cache"
"""Response header telling a caller whether the answer came from the cache: HIT or MISS."""

__all__ = [
    "CACHE_HEADER",
    "DEFAULT_TTL",
    "MAX_TTL",
    "CacheStats",
    "Claim",
    "CoalescingCache",
    "ResponseCache",
    "Role",
    "build_cache",
    "cache_key",
    "hit_completion",
    "is_complete",
    "replay_chunks",
    "requested_ttl",
    "ttl_seconds",
    "usage_on_hit",
]
