"""`local/<model>` as an embeddings and rerank backend: the same contract as an HTTP provider,
served by a model in this process.

Models are loaded on first use and inference runs on one worker thread per gateway, so the
event loop never waits on the CPU and two requests never fight over the same two cores. The
reranker is not a cross-encoder (none can be installed here without downloading weights at
run time): it scores each document by the cosine similarity of its local embedding to the
query's, clamped to 0..1 (a negative cosine means unrelated: 0), and orders by the raw cosine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from waystation.embeddings.base import Ranked
from waystation.embeddings.call import EmbedCall, Input, RerankCall
from waystation.embeddings.local.models import (
    MODELS,
    PROCESS_MODELS,
    LoadedModels,
    LocalModel,
    ModelSpec,
)
from waystation.embeddings.providers.options import no_user, refuse, text_only
from waystation.embeddings.wire import EmbedBatch, Fields, RerankBatch, clamp_score
from waystation.errors import NotFound
from waystation.providers.base import Target

BATCH = 256  # texts per worker-thread call: other requests get a turn between batches


class LocalRunner:
    """The worker thread and the loaded models behind `local/…`, for one gateway."""

    def __init__(self, models: LoadedModels = PROCESS_MODELS) -> None:
        self._models = models
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-embed")

    async def embed(self, spec: ModelSpec, texts: list[str], size: int
                    ) -> tuple[list[list[float]], int]:
        loop = asyncio.get_running_loop()
        model: LocalModel = await loop.run_in_executor(self._thread, self._models.get, spec)
        return await loop.run_in_executor(self._thread, model.embed, texts, size)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def model_spec(target: Target) -> ModelSpec:
    spec = MODELS.get(target.model)
    if spec is None:
        known = ", ".join(f"local/{name}" for name in MODELS)
        raise NotFound(f"There is no local model '{target.model}'; local models: {known}.",
                       param="model", code="model_not_found")
    return spec


class LocalEmbedBackend:
    def __init__(self, runner: LocalRunner) -> None:
        self._runner = runner

    def batch_size(self, target: Target) -> int:
        return BATCH

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        """Local models embed queries and documents alike, so `input_type` is accepted as is."""
        spec = model_spec(target)
        text_only(call, target)
        no_user(call, target, drop=drop)
        size = spec.sizes[-1]
        if call.dimensions is not None and call.dimensions != size:
            if call.dimensions in spec.sizes:
                size = call.dimensions
            else:
                sizes = ", ".join(str(s) for s in spec.sizes)
                refuse("dimensions", target, f"local/{spec.name} gives {sizes} dimensions",
                       drop=drop)
        return {"model": spec.name, "size": size}

    async def embed(self, fields: Fields, inputs: Sequence[Input], target: Target) -> EmbedBatch:
        texts = [t for t in inputs if isinstance(t, str)]
        vectors, tokens = await self._runner.embed(model_spec(target), texts, int(fields["size"]))
        return EmbedBatch(vectors, tokens)


class LocalRerankBackend:
    def __init__(self, runner: LocalRunner) -> None:
        self._runner = runner

    def batch_size(self, target: Target) -> int:
        return BATCH

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields:
        return {"model": model_spec(target).name}

    async def rerank(
        self, fields: Fields, query: str, documents: Sequence[str], target: Target
    ) -> RerankBatch:
        spec = model_spec(target)
        vectors, tokens = await self._runner.embed(spec, [query, *documents], spec.sizes[-1])
        first, docs = vectors[0], vectors[1:]
        cosines = [sum(q * d for q, d in zip(first, doc, strict=True)) for doc in docs]
        order = sorted(range(len(docs)), key=lambda i: cosines[i], reverse=True)
        return RerankBatch([Ranked(i, clamp_score(cosines[i])) for i in order], tokens)
