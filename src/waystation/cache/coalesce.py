"""The cache the chat route uses: lookups, stores, and one upstream call per burst of misses.

When many callers ask the same question at once (a retried batch, a popular prompt), only the
first one — the *leader* — calls the provider; the others wait for its answer and are served
it as a hit. In one process the waiters share an asyncio future; across replicas on Redis the
leader also holds a short lock (`lock.RedisLock`) and the others poll the cache until the value
appears. Waiting is bounded (`max_wait`), and a leader that fails — an upstream error, an
incomplete stream, a cancelled request, a crash that lets its lock expire — sends every waiter
back to compute its own answer: one caller's error must not become everyone's, and errors are
never cached.

How the route uses it (`claim` is an async context manager; leaving it always frees waiters)::

    key = cache_key(tenant, models, call.body)
    async with cache.claim(key) as claim:
        if claim.hit:                        # from the cache, or from a leader just now
            completion = hit_completion(claim.value)
            ...answer it as JSON, or stream replay_chunks(completion)...
            return
        ...call upstream: a streaming caller streams live, accumulating the chunks...
        if the answer is complete and successful:
            await claim.store(completion, ttl)   # waiters are answered from here

`claim.role` tells a leader (`LEAD`, others may be waiting) from a caller computing on its own
(`ALONE`, after a leader failed or took longer than `max_wait`); both store a good answer the
same way. A streaming caller that finds a leader at work waits for the full answer and then
replays it, so its first byte comes when the leader finishes; pass `max_wait=0` to stream live
instead. `get_or_compute` wraps the whole pattern for callers that produce bytes in one step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import orjson

from waystation.cache.base import ResponseCache
from waystation.cache.lock import UNLOCKED, LeaderLock

log = logging.getLogger("waystation.cache")

DEFAULT_MAX_WAIT = 60.0
"""How long a caller waits for another's answer before calling upstream itself (seconds)."""


class Role(StrEnum):
    HIT = "hit"
    """The value is there: from the cache, or from the leader this caller waited for."""
    LEAD = "lead"
    """Compute and store; other callers may be waiting on this one."""
    ALONE = "alone"
    """Compute and store: the leader failed or was too slow, so nobody waits on this one."""


@dataclass(slots=True)
class CoalesceStats:
    lookups: int = 0
    hits: int = 0
    coalesced: int = 0
    """Hits served by waiting for another caller's upstream call (counted in `hits` too)."""
    leads: int = 0
    fallbacks: int = 0
    """Callers that gave up waiting (leader failed or too slow) and computed themselves."""
    stores: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def is_complete(completion: dict[str, Any]) -> bool:
    """Whether a completion may be cached: it has choices and every one of them finished."""
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(isinstance(c, dict) and c.get("finish_reason") is not None for c in choices)


class Claim:
    """One caller's hold on one key for the length of a request."""

    def __init__(
        self,
        owner: CoalescingCache,
        key: str,
        role: Role,
        value: bytes | None = None,
        future: asyncio.Future[bytes | None] | None = None,
    ) -> None:
        self.key = key
        self.role = role
        self.value = value
        self._owner = owner
        self._future = future  # set when this caller is the one others in this process await
        self._token: str | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._finished = False

    @property
    def hit(self) -> bool:
        return self.role is Role.HIT

    async def store(self, completion: dict[str, Any], ttl: float) -> bool:
        """Cache a complete `chat.completion` and hand it to the waiters; False if refused."""
        if not is_complete(completion):
            return False
        return await self.store_bytes(orjson.dumps(completion), ttl)

    async def store_bytes(self, value: bytes, ttl: float) -> bool:
        """Cache `value` for `ttl` seconds (nothing stored if ttl <= 0; waiters still served)."""
        if self.role is Role.HIT or self._finished:
            return False
        if self._future is not None and not self._future.done():
            self._future.set_result(value)  # local waiters are answered before the write
        if ttl > 0:
            await self._owner.backend.set(self.key, value, ttl)
            self._owner.stats.stores += 1
        self.value = value
        await self.finish()
        return True

    async def finish(self) -> None:
        """Free the key: waiters that got no value compute for themselves. Idempotent."""
        if self._finished:
            return
        self._finished = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._future is not None:
            if not self._future.done():
                self._future.set_result(None)
            self._owner._forget(self.key, self._future)
        if self._token is not None:
            await self._owner._release(self.key, self._token)


class CoalescingCache:
    """A `ResponseCache` backend plus coalescing of identical misses (see the module doc).

    Waits are measured on the event loop's clock, like every asyncio timeout, so the local
    wait (a future) and the cross-replica wait (polling) agree on when `max_wait` is over.
    """

    def __init__(
        self,
        backend: ResponseCache,
        *,
        lock: LeaderLock | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        poll_interval: float = 0.05,
    ) -> None:
        self.backend = backend
        self.lock = lock
        self.max_wait = max_wait
        self.poll_interval = poll_interval
        self.stats = CoalesceStats()
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}

    @contextlib.asynccontextmanager
    async def claim(self, key: str, *, max_wait: float | None = None) -> AsyncIterator[Claim]:
        """Look `key` up, waiting for a caller already computing it; see the module doc."""
        claim = await self._open(key, self.max_wait if max_wait is None else max_wait)
        try:
            yield claim
        finally:
            await claim.finish()

    async def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Awaitable[tuple[bytes, bool]]],
        ttl: float,
        *,
        max_wait: float | None = None,
    ) -> tuple[bytes, bool]:
        """(value, hit). `compute` returns (value, cacheable); an uncacheable value or an
        exception is never stored nor shared, so waiters then compute for themselves."""
        async with self.claim(key, max_wait=max_wait) as claim:
            if claim.hit and claim.value is not None:
                return claim.value, True
            value, cacheable = await compute()
            if cacheable:
                await claim.store_bytes(value, ttl)
            return value, False

    @property
    def in_flight(self) -> int:
        """Keys some caller in this process is computing now."""
        return len(self._inflight)

    async def close(self) -> None:
        await self.backend.close()

    async def _open(self, key: str, max_wait: float) -> Claim:
        self.stats.lookups += 1
        deadline = asyncio.get_running_loop().time() + max_wait
        pending = self._inflight.get(key)
        if pending is not None:
            value = await _await_result(pending, max_wait) if max_wait > 0 else None
            if value is not None:
                return self._hit(Claim(self, key, Role.HIT, value), coalesced=True)
            self.stats.fallbacks += 1
            return Claim(self, key, Role.ALONE)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        claim = Claim(self, key, Role.LEAD, future=future)
        try:
            value = await self.backend.get(key)
            coalesced = False
            if value is None and self.lock is not None:
                value, coalesced = await self._elect(claim, self.lock, deadline)
        except BaseException:
            await claim.finish()
            raise
        if value is not None:
            claim.role, claim.value = Role.HIT, value
            if not future.done():
                future.set_result(value)
            await claim.finish()
            return self._hit(claim, coalesced=coalesced)
        if claim.role is Role.LEAD:
            self.stats.leads += 1
        else:
            self.stats.fallbacks += 1
        return claim

    async def _elect(
        self, claim: Claim, lock: LeaderLock, deadline: float
    ) -> tuple[bytes | None, bool]:
        """Lead across replicas, or wait for the replica that leads: (value, came from it)."""
        token = await lock.acquire(claim.key)
        if token is not None:
            claim._token = token
            value = await self.backend.get(claim.key)  # a leader elsewhere may just have stored
            if value is None and token != UNLOCKED:
                claim._heartbeat = asyncio.create_task(self._keep(lock, claim.key, token))
            return value, False
        value = await self._poll(lock, claim.key, deadline)
        if value is None:
            claim.role = Role.ALONE
        return value, value is not None

    async def _poll(self, lock: LeaderLock, key: str, deadline: float) -> bytes | None:
        loop = asyncio.get_running_loop()
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(self.poll_interval, remaining))
            value = await self.backend.get(key)
            if value is not None:
                return value
            if not await lock.held(key):
                # the leader stored and released between our two reads, or it failed
                return await self.backend.get(key)
        return None

    async def _keep(self, lock: LeaderLock, key: str, token: str) -> None:
        """Extend the lock while the leader works, so a long generation keeps it."""
        while True:
            await asyncio.sleep(lock.ttl / 3)
            if not await lock.refresh(key, token):
                return

    async def _release(self, key: str, token: str) -> None:
        if self.lock is not None:
            await self.lock.release(key, token)

    def _forget(self, key: str, future: asyncio.Future[bytes | None]) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]

    def _hit(self, claim: Claim, *, coalesced: bool) -> Claim:
        self.stats.hits += 1
        if coalesced:
            self.stats.coalesced += 1
        return claim


async def _await_result(future: asyncio.Future[bytes | None], timeout: float) -> bytes | None:
    """The leader's value, or None if it failed or did not finish within `timeout`.

    `asyncio.wait` never cancels the shared future, neither on timeout nor when this caller is
    cancelled, so one waiter leaving does not disturb the others.
    """
    done, _ = await asyncio.wait({future}, timeout=timeout)
    return future.result() if done else None
