"""What the rest of the gateway (knowledge bases above all) asks of embeddings and reranking.

`Gateway.embeddings` and `Gateway.reranker` implement these; model ids are `provider/model`
like chat models (`openai/text-embedding-3-small`, `local/wordllama`, `cohere/rerank-v3.5`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]  # one per input text, in order
    model: str  # `provider/model` that answered
    prompt_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Ranked:
    index: int  # position in the documents given
    score: float  # relevance, 0..1 (higher is better)


class EmbeddingService(Protocol):
    async def embed(
        self, model: str, texts: list[str], *, input_type: str | None = None
    ) -> Embeddings:
        """Vectors for `texts` (batched as the provider needs); raises GatewayError subclasses.

        `input_type` ("search_document", "search_query", "classification", "clustering") is a
        hint: providers whose models embed queries and documents differently (Cohere, Voyage,
        Jina, Gemini) are told; the others embed the texts as they are.
        """


class RerankService(Protocol):
    async def rerank(
        self, model: str, query: str, documents: list[str], top_n: int | None = None
    ) -> list[Ranked]:
        """Documents ordered by relevance to `query`, best first, at most `top_n`."""
