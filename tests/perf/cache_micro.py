"""Micro-benchmark of the response cache: what a key, a lookup, a store and a replay cost.

Not a test (pytest does not collect this file): run it by hand, with Redis on 127.0.0.1:6379
for the Redis rows (override with WAYSTATION_REDIS_URL)::

    .venv/bin/python tests/perf/cache_micro.py [--quick]

Each row is the mean over many calls in one task on an idle machine (Redis rows are bound by
the loopback round trip), plus one concurrent row for Redis (64 tasks, one shared pool).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from waystation.cache.coalesce import CoalescingCache
from waystation.cache.keys import cache_key
from waystation.cache.memory import MemoryCache
from waystation.cache.redis import RedisCache, redis_client
from waystation.cache.replay import hit_completion, replay_chunks

SMALL_BODY: dict[str, Any] = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "system", "content": "You are terse."},
                 {"role": "user", "content": "What is the capital of France?"}],
    "temperature": 0.0, "max_tokens": 64.0, "stream": False,
}
LARGE_BODY: dict[str, Any] = {
    **SMALL_BODY,
    "messages": [{"role": "user" if i % 2 else "assistant", "content": "lorem ipsum " * 40}
                 for i in range(20)],
    "tools": [{"type": "function", "function": {
        "name": f"tool_{i}", "description": "does a thing",
        "parameters": {"type": "object", "properties": {"x": {"type": "number", "minimum": 0.0}},
                       "required": ["x"]}}} for i in range(5)],
}
# The same large body as an SDK that sends ints as ints: canonical form needs no rewrite.
LARGE_INT_BODY: dict[str, Any] = orjson.loads(orjson.dumps(LARGE_BODY).replace(b".0", b""))
COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "The answer is Paris. " * 20}}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 100, "total_tokens": 120},
}
VALUE = orjson.dumps(COMPLETION)


def bench_sync(name: str, fn: Callable[[], object], n: int) -> tuple[str, float]:
    for _ in range(min(n, 1000)):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return name, (time.perf_counter() - start) / n


async def bench_async(name: str, fn: Callable[[], Awaitable[object]], n: int) -> tuple[str, float]:
    for _ in range(min(n, 200)):
        await fn()
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return name, (time.perf_counter() - start) / n


async def bench_concurrent(
    name: str, fn: Callable[[], Awaitable[object]], n: int, tasks: int = 64
) -> tuple[str, float]:
    async def worker() -> None:
        for _ in range(n // tasks):
            await fn()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return name, (time.perf_counter() - start) / (n // tasks * tasks)


async def backend_rows(label: str, cache: Any, n: int) -> list[tuple[str, float]]:
    await cache.set("hit", VALUE, 600)
    coalescing = CoalescingCache(cache)

    async def claim_hit() -> None:
        async with coalescing.claim("hit"):
            pass

    return [
        await bench_async(f"{label}: get (hit, {len(VALUE)} B)", lambda: cache.get("hit"), n),
        await bench_async(f"{label}: get (miss)", lambda: cache.get("absent"), n),
        await bench_async(f"{label}: set ({len(VALUE)} B)", lambda: cache.set("k", VALUE, 600), n),
        await bench_async(f"{label}: claim (hit, with coalescing)", claim_hit, n),
    ]


async def main(quick: bool) -> None:
    n = 2_000 if quick else 20_000
    rows = [
        bench_sync("cache_key (2 messages)", lambda: cache_key("key_1", ["m"], SMALL_BODY), n),
        bench_sync(f"cache_key (20 messages + 5 tools, {len(orjson.dumps(LARGE_BODY))} B)",
                   lambda: cache_key("key_1", ["m"], LARGE_BODY), n),
        bench_sync("cache_key (same, no int-valued floats)",
                   lambda: cache_key("key_1", ["m"], LARGE_INT_BODY), n),
        bench_sync("hit_completion (decode + usage)", lambda: hit_completion(VALUE), n),
        bench_sync("replay_chunks", lambda: replay_chunks(COMPLETION), n),
    ]
    rows += await backend_rows(
        "memory", MemoryCache(max_entries=10_000, max_bytes=1 << 28), n)
    url = os.environ.get("WAYSTATION_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"waystation-bench:{uuid.uuid4().hex[:8]}:"
    client = redis_client(url)
    redis = RedisCache(client, prefix=prefix)
    try:
        await client.ping()
    except Exception as exc:
        print(f"(Redis rows skipped: {url} unreachable: {exc})")
    else:
        rn = n // 4
        rows += await backend_rows("redis", redis, rn)
        rows.append(await bench_concurrent(
            "redis: get (hit), 64 concurrent tasks, per call", lambda: redis.get("hit"), rn))
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)
    finally:
        await client.aclose()
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1e6:9.2f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    asyncio.run(main(parser.parse_args().quick))
