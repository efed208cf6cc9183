"""Bedrock `POST {endpoint}/model/{modelId}/invoke` for Amazon Titan and Cohere embedding models,
signed with SigV4 (or a Bedrock API key) by the Bedrock chat adapter's own `BedrockAuth`.

The body is the model family's own: Titan embeds one text per call
(`{"inputText", "dimensions"?}` → `{"embedding", "inputTextTokenCount"}`); Cohere embeds up to 96
(`{"texts", "input_type", "embedding_types"?}` → `{"embeddings"}`). Other model families are
refused with a 400 naming the model, before anything is signed or sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from waystation.embeddings.call import EmbedCall, Input
from waystation.embeddings.providers.cohere import (
    DEFAULT_INPUT_TYPE,
    INPUT_TYPE_NAMES,
    MAX_TEXTS,
    cohere_vectors,
)
from waystation.embeddings.providers.options import input_type, no_user, refuse, text_only
from waystation.embeddings.wire import EmbedBatch, Fields, int_or_none, load_object, vector
from waystation.errors import InvalidRequest, UpstreamError
from waystation.providers.base import Target, WireRequest
from waystation.providers.bedrock.auth import BedrockAuth, CredentialSource
from waystation.providers.bedrock.errors import map_http_error
from waystation.providers.bedrock.translate import DEFAULT_REGION

TITAN = "titan"
COHERE = "cohere"


def family(model: str) -> str | None:
    """Which body a model id takes; cross-region ids (`us.cohere.embed-v4:0`) included."""
    if "amazon.titan-embed-text" in model or "amazon.titan-embed-g1-text" in model:
        return TITAN
    if "cohere.embed" in model:
        return COHERE
    return None


class BedrockEmbedWire:
    def __init__(self, credentials: CredentialSource | None = None) -> None:
        self._auth = BedrockAuth(credentials)

    def batch_size(self, target: Target) -> int:
        return MAX_TEXTS if family(target.model) == COHERE else 1

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        kind = family(target.model)
        if kind is None:
            raise InvalidRequest(
                f"Bedrock embeddings take Amazon Titan text (amazon.titan-embed-text-…) and "
                f"Cohere (cohere.embed-…) models; '{target.model}' is neither.",
                param="model", code="model_not_supported",
            )
        text_only(call, target)
        no_user(call, target, drop=drop)
        if kind == TITAN:
            return self._titan(call, target, drop)
        fields: Fields = {
            "input_type": input_type(call, target, INPUT_TYPE_NAMES, drop=drop,
                                     default=DEFAULT_INPUT_TYPE),
        }
        if call.dimensions is not None:
            if "embed-v4" in target.model:
                fields["output_dimension"] = call.dimensions
                fields["embedding_types"] = ["float"]
            else:
                refuse("dimensions", target, "Cohere v3 models have a fixed size", drop=drop)
        return fields

    def _titan(self, call: EmbedCall, target: Target, drop: bool) -> Fields:
        input_type(call, target, {}, drop=drop)
        fields: Fields = {}
        if call.dimensions is not None:
            if "titan-embed-text-v2" in target.model:
                fields["dimensions"] = call.dimensions
            else:
                refuse("dimensions", target, "Titan v1 has a fixed size", drop=drop)
        return fields

    def encode(self, fields: Fields, inputs: Sequence[Input], target: Target) -> WireRequest:
        if family(target.model) == TITAN:
            body: dict[str, Any] = {"inputText": inputs[0], **fields}
        else:
            body = {"texts": list(inputs), **fields}
        raw = orjson.dumps(body)
        region = target.provider.options.get("region") or DEFAULT_REGION
        endpoint = target.provider.base_url or f"https://bedrock-runtime.{region}.amazonaws.com"
        url = f"{endpoint.rstrip('/')}/model/{quote(target.model, safe=':')}/invoke"
        headers = {"content-type": "application/json", "accept": "application/json",
                   **dict(target.provider.headers)}
        signed = self._auth.headers(provider=target.provider_name, token=target.provider.api_key,
                                    region=region, url=url, body=raw, headers=headers)
        return WireRequest("POST", url, signed, raw)

    def decode(self, body: bytes, count: int, target: Target) -> EmbedBatch:
        data = load_object(body, target)
        if family(target.model) == TITAN:
            tokens = int_or_none(data.get("inputTextTokenCount"))
            return EmbedBatch([vector(data.get("embedding"), target)], tokens)
        return EmbedBatch(cohere_vectors(data.get("embeddings"), count, target))

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return map_http_error(status, headers, body, target.provider_name)
