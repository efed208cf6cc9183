"""Cohere v2: `POST {base}/v2/embed` and `POST {base}/v2/rerank`, with a bearer key.

Cohere's embedding models (v3 and later) need an `input_type`; when the request names none,
`search_document` is sent, Cohere's documented choice for texts stored for search (a query
should be embedded with `input_type: "search_query"`). `output_dimension` carries
`dimensions` (embed-v4). Up to 96 texts go in one request, up to 1,000 documents in a rerank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waystation.embeddings.call import INPUT_TYPES, EmbedCall, Input, RerankCall
from waystation.embeddings.providers.options import bearer_headers, input_type, no_user, text_only
from waystation.embeddings.wire import (
    EmbedBatch,
    Fields,
    RerankBatch,
    bad_answer,
    int_or_none,
    json_request,
    load_object,
    ranked_list,
    vector,
)
from waystation.errors import UpstreamError
from waystation.providers.base import Target, WireRequest
from waystation.providers.cohere.translate import CohereAdapter

MAX_TEXTS = 96
MAX_DOCUMENTS = 1000
DEFAULT_INPUT_TYPE = "search_document"
INPUT_TYPE_NAMES = {name: name for name in INPUT_TYPES}


def cohere_vectors(embeddings: Any, count: int, target: Target) -> list[list[float]]:
    """`{"float": [[…]]}` (embeddings by type) or a bare `[[…]]` (older answers, Bedrock)."""
    if isinstance(embeddings, dict):
        embeddings = embeddings.get("float")
    if not isinstance(embeddings, list) or len(embeddings) != count:
        raise bad_answer(target, f"no float embeddings for the {count} texts sent")
    return [vector(v, target) for v in embeddings]


class CohereEmbedWire:
    def __init__(self) -> None:
        self._errors = CohereAdapter()  # Cohere's error bodies and its 498/499 statuses

    def batch_size(self, target: Target) -> int:
        return MAX_TEXTS

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        text_only(call, target)
        no_user(call, target, drop=drop)
        fields: Fields = {
            "model": target.model,
            "input_type": input_type(call, target, INPUT_TYPE_NAMES, drop=drop,
                                     default=DEFAULT_INPUT_TYPE),
            "embedding_types": ["float"],
        }
        if call.dimensions is not None:
            fields["output_dimension"] = call.dimensions
        return fields

    def encode(self, fields: Fields, inputs: Sequence[Input], target: Target) -> WireRequest:
        url = f"{target.provider.base_url}/v2/embed"
        return json_request(url, bearer_headers(target), {**fields, "texts": list(inputs)})

    def decode(self, body: bytes, count: int, target: Target) -> EmbedBatch:
        data = load_object(body, target)
        return EmbedBatch(cohere_vectors(data.get("embeddings"), count, target),
                          _billed(data, "input_tokens"))

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return self._errors.map_error(status, headers, body, target)


class CohereRerankWire:
    def __init__(self) -> None:
        self._errors = CohereAdapter()

    def batch_size(self, target: Target) -> int:
        return MAX_DOCUMENTS

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields:
        fields: Fields = {"model": target.model}
        if call.top_n is not None and len(call.documents) <= MAX_DOCUMENTS:
            fields["top_n"] = call.top_n  # one request: the provider may cut the list itself
        return fields

    def encode(
        self, fields: Fields, query: str, documents: Sequence[str], target: Target
    ) -> WireRequest:
        body = {**fields, "query": query, "documents": list(documents)}
        return json_request(f"{target.provider.base_url}/v2/rerank", bearer_headers(target), body)

    def decode(self, body: bytes, count: int, target: Target) -> RerankBatch:
        data = load_object(body, target)
        meta = data.get("meta")
        tokens = meta.get("tokens") if isinstance(meta, dict) else None
        total = int_or_none(tokens.get("input_tokens")) if isinstance(tokens, dict) else None
        return RerankBatch(ranked_list(data.get("results"), count, target), total)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return self._errors.map_error(status, headers, body, target)


def _billed(data: dict[str, Any], unit: str) -> int | None:
    meta = data.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    return int_or_none(billed.get(unit)) if isinstance(billed, dict) else None
