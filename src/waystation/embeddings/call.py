"""One embeddings or rerank request as plain data, built by the validator or by a caller inside
the gateway (knowledge bases), and read by the provider adapters and the attempt runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waystation.routing.options import RoutingOptions

# One input to embed: text, or the token ids of a text (OpenAI's token-array form).
Input = str | list[int]

# The gateway's names for what a text is embedded for (Cohere's vocabulary, the most complete);
# each adapter maps them to its provider's own names or refuses them.
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")


@dataclass(frozen=True, slots=True)
class EmbedCall:
    model: str
    inputs: list[Input]
    dimensions: int | None = None
    user: str | None = None
    input_type: str | None = None
    # True when the caller set `input_type` in the request: a provider that has no such notion
    # refuses it (400). False when it is a hint from inside the gateway: dropped where unknown.
    input_type_strict: bool = True
    encoding_format: str = "float"
    routing: RoutingOptions = field(default_factory=RoutingOptions)
    cache_ttl: float | None = None
    name: str | None = None
    contact: dict[str, Any] | None = None  # `orq.identity` (or `orq.contact`), for the trace

    @property
    def has_token_arrays(self) -> bool:
        return any(not isinstance(item, str) for item in self.inputs)


@dataclass(frozen=True, slots=True)
class RerankCall:
    model: str
    query: str
    documents: list[str]
    top_n: int | None = None
    return_documents: bool = False
    routing: RoutingOptions = field(default_factory=RoutingOptions)
    cache_ttl: float | None = None
    name: str | None = None
    contact: dict[str, Any] | None = None
