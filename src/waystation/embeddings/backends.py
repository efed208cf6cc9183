"""Where an embeddings or rerank batch is computed: a provider over HTTP (an adapter plus the
executor) or a model in this process. Both look the same to the attempt runner.

The tables below say which wire formats have embeddings and which have reranking; a provider
whose wire format is in neither (Anthropic, for one) is refused with a 400 that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from waystation.embeddings.call import EmbedCall, Input, RerankCall
from waystation.embeddings.local.backend import LocalEmbedBackend, LocalRerankBackend, LocalRunner
from waystation.embeddings.providers.bedrock import BedrockEmbedWire
from waystation.embeddings.providers.cohere import CohereEmbedWire, CohereRerankWire
from waystation.embeddings.providers.gemini import GeminiEmbedWire
from waystation.embeddings.providers.jina import JinaEmbedWire, JinaRerankWire
from waystation.embeddings.providers.openai import AzureEmbedWire, OpenAIEmbedWire
from waystation.embeddings.providers.voyage import VoyageEmbedWire, VoyageRerankWire
from waystation.embeddings.wire import EmbedBatch, EmbedWire, Fields, RerankBatch, RerankWire
from waystation.providers.base import Target
from waystation.providers.executor import Executor

EMBED_WIRES: dict[str, Callable[[], EmbedWire]] = {
    "openai": OpenAIEmbedWire,
    "azure": AzureEmbedWire,
    "cohere": CohereEmbedWire,
    "gemini": GeminiEmbedWire,
    "bedrock": BedrockEmbedWire,
    "jina": JinaEmbedWire,
    "voyage": VoyageEmbedWire,
}
RERANK_WIRES: dict[str, Callable[[], RerankWire]] = {
    "cohere": CohereRerankWire,
    "jina": JinaRerankWire,
    "voyage": VoyageRerankWire,
}
LOCAL_WIRE = "local"


class EmbedBackend(Protocol):
    def batch_size(self, target: Target) -> int: ...

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields: ...

    async def embed(self, fields: Fields, inputs: Sequence[Input], target: Target
                    ) -> EmbedBatch: ...


class RerankBackend(Protocol):
    def batch_size(self, target: Target) -> int: ...

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields: ...

    async def rerank(
        self, fields: Fields, query: str, documents: Sequence[str], target: Target
    ) -> RerankBatch: ...


class HttpEmbedBackend:
    def __init__(self, wire: EmbedWire, executor: Executor) -> None:
        self.wire = wire
        self._executor = executor

    def batch_size(self, target: Target) -> int:
        return self.wire.batch_size(target)

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        return self.wire.prepare(call, target, drop=drop)

    async def embed(self, fields: Fields, inputs: Sequence[Input], target: Target) -> EmbedBatch:
        # encoded at send time: a signed request (SigV4) is only valid for a few minutes
        request = self.wire.encode(fields, inputs, target)
        resp = await self._executor.send(request, target.provider_name)
        if resp.status >= 300:
            raise self.wire.map_error(resp.status, resp.headers, resp.body, target)
        return self.wire.decode(resp.body, len(inputs), target)


class HttpRerankBackend:
    def __init__(self, wire: RerankWire, executor: Executor) -> None:
        self.wire = wire
        self._executor = executor

    def batch_size(self, target: Target) -> int:
        return self.wire.batch_size(target)

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields:
        return self.wire.prepare(call, target, drop=drop)

    async def rerank(
        self, fields: Fields, query: str, documents: Sequence[str], target: Target
    ) -> RerankBatch:
        request = self.wire.encode(fields, query, documents, target)
        resp = await self._executor.send(request, target.provider_name)
        if resp.status >= 300:
            raise self.wire.map_error(resp.status, resp.headers, resp.body, target)
        return self.wire.decode(resp.body, len(documents), target)


def build_backends(
    executor: Executor, local: LocalRunner
) -> tuple[dict[str, EmbedBackend], dict[str, RerankBackend]]:
    """One backend per wire format, built once per gateway."""
    embed: dict[str, EmbedBackend] = {
        wire: HttpEmbedBackend(make(), executor) for wire, make in EMBED_WIRES.items()
    }
    rerank: dict[str, RerankBackend] = {
        wire: HttpRerankBackend(make(), executor) for wire, make in RERANK_WIRES.items()
    }
    embed[LOCAL_WIRE] = LocalEmbedBackend(local)
    rerank[LOCAL_WIRE] = LocalRerankBackend(local)
    return embed, rerank
