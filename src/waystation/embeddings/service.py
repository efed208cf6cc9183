"""The embeddings and rerank service: what the HTTP routes call, and what the rest of the
gateway (knowledge bases) calls as `Gateway.embeddings` / `Gateway.reranker`.

It resolves the model, plans the attempts (load balancer, fallbacks, retries, timeout), and
runs a batched job per model through its backend: a provider over HTTP or a local model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from waystation.clock import Clock
from waystation.config.settings import Settings
from waystation.embeddings.backends import (
    EmbedBackend,
    RerankBackend,
    build_backends,
)
from waystation.embeddings.base import Embeddings, Ranked
from waystation.embeddings.call import EmbedCall, RerankCall
from waystation.embeddings.jobs import EmbedJob, RerankJob
from waystation.embeddings.local.backend import LocalRunner
from waystation.embeddings.resolve import resolve
from waystation.embeddings.wire import EmbedBatch, RerankBatch
from waystation.observe.trace import Attempt
from waystation.providers.base import Target
from waystation.providers.executor import Executor
from waystation.routing.attempts import AttemptRunner, Health


@dataclass(slots=True)
class Reranked:
    ranked: list[Ranked]
    model: str  # `provider/model` that answered
    total_tokens: int | None = None
    attempts: list[Attempt] = field(default_factory=list)


class EmbeddingsService:
    """Implements `EmbeddingService` and `RerankService` (see `embeddings.base`)."""

    def __init__(
        self,
        settings: Settings,
        executor: Executor,
        clock: Clock,
        health: Health,
        *,
        local: LocalRunner | None = None,
        backends: tuple[dict[str, EmbedBackend], dict[str, RerankBackend]] | None = None,
    ) -> None:
        self._settings = settings
        self.local = local or LocalRunner()
        self._embed, self._rerank = backends or build_backends(executor, self.local)
        self._embed_runner: AttemptRunner[EmbedBatch] = AttemptRunner(settings, clock, health)
        self._rerank_runner: AttemptRunner[RerankBatch] = AttemptRunner(settings, clock, health)

    # -- the interfaces of `embeddings.base` ---------------------------------------------------
    async def embed(
        self, model: str, texts: list[str], *, input_type: str | None = None
    ) -> Embeddings:
        if not texts:
            return Embeddings([], model, 0)
        call = EmbedCall(model=model, inputs=list(texts), input_type=input_type,
                         input_type_strict=False)
        return await self.embed_call(call, [])

    async def rerank(
        self, model: str, query: str, documents: list[str], top_n: int | None = None
    ) -> list[Ranked]:
        if not documents:
            return []
        call = RerankCall(model=model, query=query, documents=list(documents), top_n=top_n)
        return (await self.rerank_call(call, [])).ranked

    # -- full calls, as the routes make them -------------------------------------------------
    async def embed_call(self, call: EmbedCall, attempts: list[Attempt]) -> Embeddings:
        drop = self._settings.drop_unsupported_params

        def start(target: Target) -> EmbedJob:
            backend = self._embed[target.provider.spec.wire]
            fields = backend.prepare(call, target, drop=drop)
            return EmbedJob(backend, fields, target, call.inputs)

        target, batch = await self._embed_runner.run(
            call.model, call.routing, attempts, self._resolver(self._embed, "embeddings"), start
        )
        return Embeddings(batch.vectors, target.public_model, batch.prompt_tokens)

    async def rerank_call(self, call: RerankCall, attempts: list[Attempt]) -> Reranked:
        drop = self._settings.drop_unsupported_params

        def start(target: Target) -> RerankJob:
            backend = self._rerank[target.provider.spec.wire]
            fields = backend.prepare(call, target, drop=drop)
            return RerankJob(backend, fields, target, call.query, call.documents, call.top_n)

        target, batch = await self._rerank_runner.run(
            call.model, call.routing, attempts, self._resolver(self._rerank, "reranking"), start
        )
        return Reranked(batch.ranked, target.public_model, batch.total_tokens, attempts)

    def _resolver(self, wires: dict[str, EmbedBackend] | dict[str, RerankBackend], what: str
                  ) -> Resolver:
        return Resolver(self._settings, frozenset(wires), what)

    def close(self) -> None:
        self.local.close()


@dataclass(frozen=True, slots=True)
class Resolver:
    settings: Settings
    wires: frozenset[str]
    what: str

    def __call__(self, model: str, param: str) -> Target:
        return resolve(self.settings, model, self.wires, self.what, param=param)
