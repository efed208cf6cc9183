"""Model health: a model that keeps failing is cooled down for a while, then probed again.

Reads are synchronous and local (the router asks on every request); with Redis the local view is
a snapshot refreshed in the background and failures are published to it, so every replica skips
the same models without a network call on the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from waystation.clock import Clock
from waystation.config.settings import Settings

log = logging.getLogger("waystation.health")


class LocalHealth:
    """Per-process health: consecutive failures per model, and when each cooldown ends."""

    def __init__(
        self, *, failures: int, cooldown: float, now: Callable[[], float] = time.time
    ) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self._now = now
        self._fails: dict[str, int] = {}
        self._cooled_until: dict[str, float] = {}

    def is_cooled(self, model: str) -> bool:
        until = self._cooled_until.get(model)
        return until is not None and until > self._now()

    def report(self, model: str, ok: bool) -> None:
        if ok:
            self._fails.pop(model, None)
            self._cooled_until.pop(model, None)
            return
        count = self._fails.get(model, 0) + 1
        self._fails[model] = count
        if count >= self.failures:
            # a probe that fails after the cooldown cools the model down again at once
            self._cooled_until[model] = self._now() + self.cooldown

    def cooled_models(self) -> dict[str, float]:
        now = self._now()
        return {m: u for m, u in self._cooled_until.items() if u > now}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisHealth(LocalHealth):
    """Health shared through Redis: `ws:health:fails:<model>` counts consecutive failures and
    `ws:health:cool:<model>` exists while the model cools down (it expires by itself)."""

    def __init__(
        self,
        url: str,
        *,
        failures: int,
        cooldown: float,
        refresh: float = 1.0,
        prefix: str = "ws:health:",
    ) -> None:
        super().__init__(failures=failures, cooldown=cooldown)
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._refresh = refresh
        self._prefix = prefix
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._warned = 0.0
        self._closed = False

    async def start(self) -> None:
        await self._pull()
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        # The flag also stops the loop when the cancellation lands inside a Redis call: the
        # client may turn it into an error of its own, which `_pull` takes for an outage.
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._pending):
            with contextlib.suppress(Exception):
                await task
        await self._redis.aclose()

    def report(self, model: str, ok: bool) -> None:
        super().report(model, ok)
        task = asyncio.get_running_loop().create_task(self._push(model, ok))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _push(self, model: str, ok: bool) -> None:
        fails, cool = f"{self._prefix}fails:{model}", f"{self._prefix}cool:{model}"
        try:
            if ok:
                await self._redis.delete(fails, cool)
                return
            count = await self._redis.incr(fails)
            await self._redis.expire(fails, int(self.cooldown * 4) + 1)
            if count >= self.failures:
                await self._redis.set(cool, "1", px=int(self.cooldown * 1000))
        except Exception as exc:  # shared health is an optimisation; serving goes on without it
            self._warn(exc)

    async def _loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._refresh)
            await self._pull()

    async def _pull(self) -> None:
        """Replace the local cooldowns with what the fleet agrees on."""
        try:
            keys = [k async for k in self._redis.scan_iter(match=f"{self._prefix}cool:*")]
            shared: dict[str, float] = {}
            now = self._now()
            for key in keys:
                ttl_ms = await self._redis.pttl(key)
                if ttl_ms and ttl_ms > 0:
                    name = key.decode() if isinstance(key, bytes) else str(key)
                    shared[name[len(self._prefix) + 5:]] = now + ttl_ms / 1000
            self._cooled_until = shared
        except Exception as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._warned > 30:
            self._warned = time.monotonic()
            log.warning("shared model health is unavailable (%s); using this process's view", exc)


def build_health(settings: Settings, clock: Clock) -> LocalHealth:
    """Shared through Redis when `WAYSTATION_REDIS_URL` is set, else per process."""
    if settings.redis_url:
        return RedisHealth(
            settings.redis_url,
            failures=settings.health_failures,
            cooldown=settings.health_cooldown,
        )
    return LocalHealth(
        failures=settings.health_failures, cooldown=settings.health_cooldown, now=clock.now
    )
