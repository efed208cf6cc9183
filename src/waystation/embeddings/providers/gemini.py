"""Gemini `POST {base}/v1beta/models/{model}:batchEmbedContents`, the key in `x-goog-api-key`.

Each text is one entry of `requests` (up to 100 per call), carrying the model, the task type
(`RETRIEVAL_DOCUMENT`, `RETRIEVAL_QUERY`, … from `input_type`) and `outputDimensionality`
(from `dimensions`). Gemini's answer has no token counts unless it sends `usageMetadata`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from waystation.embeddings.call import EmbedCall, Input
from waystation.embeddings.providers.options import input_type, no_user, text_only
from waystation.embeddings.wire import (
    EmbedBatch,
    Fields,
    bad_answer,
    int_or_none,
    json_request,
    load_object,
    vector,
)
from waystation.errors import UpstreamError
from waystation.providers.base import Target, WireRequest
from waystation.providers.gemini import errors

MAX_REQUESTS = 100
TASK_TYPES = {
    "search_document": "RETRIEVAL_DOCUMENT",
    "search_query": "RETRIEVAL_QUERY",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
}


def model_path(model: str) -> str:
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


class GeminiEmbedWire:
    def batch_size(self, target: Target) -> int:
        return MAX_REQUESTS

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        text_only(call, target)
        no_user(call, target, drop=drop)
        fields: Fields = {"model": model_path(target.model)}
        task = input_type(call, target, TASK_TYPES, drop=drop)
        if task is not None:
            fields["taskType"] = task
        if call.dimensions is not None:
            fields["outputDimensionality"] = call.dimensions
        return fields

    def encode(self, fields: Fields, inputs: Sequence[Input], target: Target) -> WireRequest:
        requests = [{**fields, "content": {"parts": [{"text": text}]}} for text in inputs]
        headers = {"content-type": "application/json", "accept": "application/json"}
        if target.provider.api_key:
            headers["x-goog-api-key"] = target.provider.api_key
        headers.update(target.provider.headers)
        path = quote(model_path(target.model), safe="/")
        url = f"{target.provider.base_url}/v1beta/{path}:batchEmbedContents"
        return json_request(url, headers, {"requests": requests})

    def decode(self, body: bytes, count: int, target: Target) -> EmbedBatch:
        data = load_object(body, target)
        items: Any = data.get("embeddings")
        if not isinstance(items, list) or len(items) != count:
            raise bad_answer(target, f"no embeddings for the {count} texts sent")
        vectors = [vector(i.get("values") if isinstance(i, dict) else None, target)
                   for i in items]
        usage = data.get("usageMetadata")
        tokens = int_or_none(usage.get("promptTokenCount")) if isinstance(usage, dict) else None
        return EmbedBatch(vectors, tokens)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return errors.map_error(status, headers, body, target.provider_name)
