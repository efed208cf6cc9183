"""Jina AI: `POST {base}/embeddings` and `POST {base}/rerank` (base `https://api.jina.ai/v1`),
with a bearer key (`JINA_API_KEY`).

The embeddings body is OpenAI's plus `task` (from `input_type`: `retrieval.passage`,
`retrieval.query`, `classification`, `separation`) and `dimensions`; the answer is
OpenAI-shaped. Errors are `{"detail": …}` bodies, mapped by status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waystation.embeddings.call import EmbedCall, Input, RerankCall
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
    int_or_none,
    json_request,
    load_object,
    ranked_list,
    vectors_in_order,
)
from waystation.errors import UpstreamError
from waystation.providers.base import Target, WireRequest

MAX_INPUTS = 512
MAX_DOCUMENTS = 1000
TASKS = {
    "search_document": "retrieval.passage",
    "search_query": "retrieval.query",
    "classification": "classification",
    "clustering": "separation",
}


def usage_tokens(data: dict[str, Any]) -> int | None:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return None
    return int_or_none(usage.get("prompt_tokens", usage.get("total_tokens")))


class JinaEmbedWire:
    def batch_size(self, target: Target) -> int:
        return MAX_INPUTS

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        text_only(call, target)
        no_user(call, target, drop=drop)
        fields: Fields = {"model": target.model, "embedding_type": "float"}
        task = input_type(call, target, TASKS, drop=drop)
        if task is not None:
            fields["task"] = task
        if call.dimensions is not None:
            fields["dimensions"] = call.dimensions
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


class JinaRerankWire:
    def batch_size(self, target: Target) -> int:
        return MAX_DOCUMENTS

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields:
        fields: Fields = {"model": target.model, "return_documents": False}
        if call.top_n is not None and len(call.documents) <= MAX_DOCUMENTS:
            fields["top_n"] = call.top_n
        return fields

    def encode(
        self, fields: Fields, query: str, documents: Sequence[str], target: Target
    ) -> WireRequest:
        body = {**fields, "query": query, "documents": list(documents)}
        return json_request(f"{target.provider.base_url}/rerank", bearer_headers(target), body)

    def decode(self, body: bytes, count: int, target: Target) -> RerankBatch:
        data = load_object(body, target)
        return RerankBatch(ranked_list(data.get("results"), count, target), usage_tokens(data))

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return plain_error(status, headers, body, target)
