"""The work of one model for one request: its inputs cut into the provider's batch size, sent a
few at a time, and put back together in order.

A job remembers the batches that succeeded, so a retry on the same model sends only the rest.
A batch whose answer has the wrong number of vectors is a malformed answer (502), never a
silently shifted result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from waystation.embeddings.backends import EmbedBackend, RerankBackend
from waystation.embeddings.base import Ranked
from waystation.embeddings.call import Input
from waystation.embeddings.wire import EmbedBatch, Fields, RerankBatch, bad_answer
from waystation.providers.base import Target

CONCURRENCY = 4  # batches of one request in flight at once
B = TypeVar("B")
X = TypeVar("X")


def batches(items: Sequence[X], size: int) -> list[list[X]]:
    size = max(1, size)
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


async def run_missing(count: int, done: dict[int, B], send: Callable[[int], Awaitable[B]]) -> None:
    """Send every batch not yet in `done`, `CONCURRENCY` at a time; the first failure cancels
    the others and is raised as it is."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with limit:
            done[i] = await send(i)

    tasks = [asyncio.ensure_future(one(i)) for i in range(count) if i not in done]
    if not tasks:
        return
    try:
        finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in finished:
            error = task.exception()
            if error is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class EmbedJob:
    def __init__(
        self, backend: EmbedBackend, fields: Fields, target: Target, inputs: Sequence[Input]
    ) -> None:
        self._backend = backend
        self._fields = fields
        self._target = target
        self._batches = batches(inputs, backend.batch_size(target))
        self._done: dict[int, EmbedBatch] = {}

    async def _send(self, i: int) -> EmbedBatch:
        batch = self._batches[i]
        result = await self._backend.embed(self._fields, batch, self._target)
        if len(result.vectors) != len(batch):
            raise bad_answer(self._target, f"{len(result.vectors)} vectors for {len(batch)} inputs")
        return result

    async def run(self) -> EmbedBatch:
        await run_missing(len(self._batches), self._done, self._send)
        parts = [self._done[i] for i in range(len(self._batches))]
        counts = [p.prompt_tokens for p in parts]
        tokens = None if any(c is None for c in counts) else sum(c or 0 for c in counts)
        return EmbedBatch([v for p in parts for v in p.vectors], tokens)


class RerankJob:
    def __init__(
        self, backend: RerankBackend, fields: Fields, target: Target, query: str,
        documents: Sequence[str], top_n: int | None,
    ) -> None:
        self._backend = backend
        self._fields = fields
        self._target = target
        self._query = query
        self._size = max(1, backend.batch_size(target))
        self._batches = batches(documents, self._size)
        self._top_n = top_n
        self._done: dict[int, RerankBatch] = {}

    async def _send(self, i: int) -> RerankBatch:
        return await self._backend.rerank(self._fields, self._query, self._batches[i],
                                          self._target)

    async def run(self) -> RerankBatch:
        await run_missing(len(self._batches), self._done, self._send)
        ranked: list[Ranked] = []
        seen: set[int] = set()
        for i in range(len(self._batches)):
            for r in self._done[i].ranked:
                index = i * self._size + r.index
                if index in seen:
                    raise bad_answer(self._target, "the same document ranked twice")
                seen.add(index)
                ranked.append(Ranked(index, r.score))
        ranked.sort(key=lambda r: r.score, reverse=True)  # stable: ties keep batch order
        counts = [self._done[i].total_tokens for i in range(len(self._batches))]
        tokens = None if any(c is None for c in counts) else sum(c or 0 for c in counts)
        cut = ranked if self._top_n is None else ranked[: self._top_n]
        return RerankBatch(cut, tokens)
