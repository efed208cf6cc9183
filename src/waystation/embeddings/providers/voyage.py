"""Voyage AI: `POST {base}/embeddings` and `POST {base}/rerank` (base
`https://api.voyageai.com/v1`), with a bearer key (`VOYAGE_API_KEY`).

Voyage names its input types `document` and `query` (`input_type`), the size
`output_dimension`, and the rerank cut `top_k`; answers are OpenAI-shaped (`data`, `usage`).
Up to 128 texts go in one embeddings request (Voyage also caps tokens per request), up to
1,000 documents in a rerank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from waystation.embeddings.call import EmbedCall, Input, RerankCall
from waystation.embeddings.providers.jina import usage_tokens
from waystation.embeddings.providers.options import (
    bearer_headers,
    input_type,
    no_user,
    plain_error,
    text_only,
)
from waystation.embeddings.wire import (
    EmbedBatch,
    Fields,
    RerankBatch,
    json_request,
    load_object,
    ranked_list,
    vectors_in_order,
)
from waystation.errors import UpstreamError
from waystation.providers.base import Target, WireRequest

MAX_INPUTS = 128
MAX_DOCUMENTS = 1000
INPUT_TYPES = {"search_document": "document", "search_query": "query"}


class VoyageEmbedWire:
    def batch_size(self, target: Target) -> int:
        return MAX_INPUTS

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        text_only(call, target)
        no_user(call, target, drop=drop)
        fields: Fields = {"model": target.model}
        kind = input_type(call, target, INPUT_TYPES, drop=drop)
        if kind is not None:
            fields["input_type"] = kind
        if call.dimensions is not None:
            fields["output_dimension"] = call.dimensions
        return fields

    def encode(self, fields: Fields, inputs: Sequence[Input], target: Target) -> WireRequest:
        body = {**fields, "input": list(inputs)}
        return json_request(f"{target.provider.base_url}/embeddings", bearer_headers(target), body)

    def decode(self, body: bytes, count: int, target: Target) -> EmbedBatch:
        data = load_object(body, target)
        return EmbedBatch(vectors_in_order(data.get("data"), count, target), usage_tokens(data))

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return plain_error(status, headers, body, target)


class VoyageRerankWire:
    def batch_size(self, target: Target) -> int:
        return MAX_DOCUMENTS

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields:
        fields: Fields = {"model": target.model}
        if call.top_n is not None and len(call.documents) <= MAX_DOCUMENTS:
            fields["top_k"] = call.top_n
        return fields

    def encode(
        self, fields: Fields, query: str, documents: Sequence[str], target: Target
    ) -> WireRequest:
        body = {**fields, "query": query, "documents": list(documents)}
        return json_request(f"{target.provider.base_url}/rerank", bearer_headers(target), body)

    def decode(self, body: bytes, count: int, target: Target) -> RerankBatch:
        data = load_object(body, target)
        return RerankBatch(ranked_list(data.get("data"), count, target), usage_tokens(data))

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return plain_error(status, headers, body, target)
