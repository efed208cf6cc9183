"""Which replica computes a missing entry: a short Redis lock per cache key.

`SET lock NX PX ttl` elects one leader among the replicas that miss the same key at once; the
others poll for the value. The lock is short (a leader that dies frees it within `ttl`) and the
living leader keeps it with a heartbeat, so a long generation does not lose it. Only the holder
of the random token may extend or release it (compare-and-act in a Lua script).

Like the cache, the lock never raises: when Redis cannot be reached, `acquire` answers
`UNLOCKED` — lead without a lock, which is what a single replica would do anyway — and `held`
answers False, so that nobody waits on a lock that cannot be observed.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Protocol

from waystation.cache.health import BackendHealth

if TYPE_CHECKING:  # the redis client is imported only by deployments that configure Redis
    from redis.asyncio import Redis

UNLOCKED = ""
"""The token `acquire` gives when no lock could be taken but the caller should lead anyway."""

_REFRESH = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock(Protocol):
    """A lock shared between replicas; every method swallows its own failures."""

    ttl: float

    async def acquire(self, key: str) -> str | None:
        """A token when the caller leads (possibly `UNLOCKED`), None when another caller does."""
        ...

    async def held(self, key: str) -> bool:
        """Whether some caller holds the lock on `key` now."""
        ...

    async def refresh(self, key: str, token: str) -> bool:
        """Extend our lock by `ttl`; False once it is known to be no longer ours."""
        ...

    async def release(self, key: str, token: str) -> None:
        """Free our lock, if it is still ours."""
        ...


class RedisLock:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str,
        ttl: float = 10.0,
        health: BackendHealth | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.health = health or BackendHealth("Redis cache lock")
        self._refresh: Any = client.register_script(_REFRESH)
        self._release: Any = client.register_script(_RELEASE)

    @property
    def _millis(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def acquire(self, key: str) -> str | None:
        if not self.health.should_try():
            return UNLOCKED
        token = secrets.token_hex(16)
        try:
            taken = await self.client.set(self.prefix + key, token, nx=True, px=self._millis)
        except Exception as exc:
            self.health.failed(exc)
            return UNLOCKED
        self.health.succeeded()
        return token if taken else None

    async def held(self, key: str) -> bool:
        if not self.health.should_try():
            return False
        try:
            count = await self.client.exists(self.prefix + key)
        except Exception as exc:
            self.health.failed(exc)
            return False
        self.health.succeeded()
        return bool(count)

    async def refresh(self, key: str, token: str) -> bool:
        if token == UNLOCKED:
            return False
        try:
            done = await self._refresh(keys=[self.prefix + key], args=[token, self._millis])
        except Exception as exc:
            self.health.failed(exc)
            return True  # cannot tell: keep trying while the lock may still be ours
        return bool(done)

    async def release(self, key: str, token: str) -> None:
        if token == UNLOCKED:
            return
        try:
            await self._release(keys=[self.prefix + key], args=[token])
        except Exception as exc:
            self.health.failed(exc)
