"""OpenAI `POST {base}/embeddings`, for OpenAI and every OpenAI-compatible provider, and Azure
OpenAI (the same body sent to a deployment URL with an `api-key` header).

Floats are always asked for: `encoding_format: base64` is the gateway's own encoding of the
answer, so every provider's vectors go back to the caller the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from waystation.embeddings.call import EmbedCall, Input
from waystation.embeddings.providers.options import bearer_headers, input_type
from waystation.embeddings.wire import (
    EmbedBatch,
    Fields,
    int_or_none,
    json_request,
    load_object,
    vectors_in_order,
)
from waystation.errors import UnsupportedParameter, UpstreamError
from waystation.providers.azure.translate import DEFAULT_API_VERSION, deployment_base
from waystation.providers.base import Target, WireRequest
from waystation.providers.openai_compat.translate import OpenAIAdapter

# OpenAI takes up to 2048 inputs per request; so do Azure deployments on current API versions.
MAX_INPUTS = 2048
# Providers known to take token arrays (`[[1, 2, 3]]`) as input; others embed text only.
TOKEN_INPUT_PROVIDERS = frozenset({"openai", "azure", "vllm"})


class OpenAIEmbedWire:
    def __init__(self) -> None:
        self._errors = OpenAIAdapter()  # the chat adapter's mapping of OpenAI error bodies

    def batch_size(self, target: Target) -> int:
        return MAX_INPUTS

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        if call.has_token_arrays and target.provider_name not in TOKEN_INPUT_PROVIDERS:
            raise UnsupportedParameter(
                f"Provider '{target.provider_name}' embeds text only: send 'input' as a string "
                "or a list of strings, not token arrays.",
                param="input",
            )
        input_type(call, target, {}, drop=drop)  # OpenAI's models have no input types
        fields: Fields = {"model": target.model, "encoding_format": "float"}
        if call.dimensions is not None:
            fields["dimensions"] = call.dimensions
        if call.user is not None:
            fields["user"] = call.user
        return fields

    def encode(self, fields: Fields, inputs: Sequence[Input], target: Target) -> WireRequest:
        body = {**fields, "input": list(inputs)}
        return json_request(f"{target.provider.base_url}/embeddings", bearer_headers(target), body)

    def decode(self, body: bytes, count: int, target: Target) -> EmbedBatch:
        data = load_object(body, target)
        usage: Any = data.get("usage")
        tokens = None
        if isinstance(usage, dict):
            tokens = int_or_none(usage.get("prompt_tokens", usage.get("total_tokens")))
        return EmbedBatch(vectors_in_order(data.get("data"), count, target), tokens)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return self._errors.map_error(status, headers, body, target)


class AzureEmbedWire(OpenAIEmbedWire):
    """The deployment in the model id names the model: the body carries no `model`."""

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        fields = super().prepare(call, target, drop=drop)
        del fields["model"]
        return fields

    def encode(self, fields: Fields, inputs: Sequence[Input], target: Target) -> WireRequest:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if target.provider.api_key:
            headers["api-key"] = target.provider.api_key
        headers.update(target.provider.headers)
        version = target.provider.options.get("api_version") or DEFAULT_API_VERSION
        url = (
            f"{deployment_base(target)}/openai/deployments/{quote(target.model, safe='')}"
            f"/embeddings?api-version={quote(version, safe='')}"
        )
        return json_request(url, headers, {**fields, "input": list(inputs)})
