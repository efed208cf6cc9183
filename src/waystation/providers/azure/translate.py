"""Azure OpenAI: the OpenAI adapter's translation, sent to a deployment with an `api-key`.

The body is the OpenAI body, so the OpenAI adapter builds it (composition, not a copy); only
the address and the credentials differ. Azure's content filter shows up in three ways, and all
three reach the caller in OpenAI terms: `finish_reason: content_filter` passes through, a
filtered prompt is a 400 whose `error.code` is `content_filter` (kept as the caller's code),
and the annotation-only stream frames Azure interleaves are dropped by `AzureStreamDecoder`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from waystation.core.call import ChatCall
from waystation.errors import ProviderNotConfigured, UpstreamError
from waystation.providers.azure.stream import AzureStreamDecoder
from waystation.providers.base import Target, WireRequest
from waystation.providers.openai_compat.translate import OpenAIAdapter
from waystation.transport.sse import SSEParser

ENDPOINT_VAR = "AZURE_OPENAI_ENDPOINT"
DEFAULT_API_VERSION = "2024-10-21"

# Headers of the OpenAI request that Azure must not receive: the key goes in `api-key`.
_DROPPED_HEADERS = frozenset({"authorization"})


class AzureAdapter:
    wire = "azure"

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()

    def encode(self, call: ChatCall, target: Target, *, drop_unsupported: bool) -> WireRequest:
        endpoint = deployment_base(target)
        openai_request = self._openai.encode(call, target, drop_unsupported=drop_unsupported)
        headers = {
            k: v for k, v in openai_request.headers.items() if k.lower() not in _DROPPED_HEADERS
        }
        if target.provider.api_key:
            headers["api-key"] = target.provider.api_key
        version = target.provider.options.get("api_version") or DEFAULT_API_VERSION
        url = (
            f"{endpoint}/openai/deployments/{quote(target.model, safe='')}/chat/completions"
            f"?api-version={quote(version, safe='')}"
        )
        return WireRequest("POST", url, headers, openai_request.body)

    def decode(self, body: bytes, target: Target) -> dict[str, Any]:
        return self._openai.decode(body, target)

    def event_parser(self) -> SSEParser:
        return SSEParser()

    def stream_decoder(self, target: Target) -> AzureStreamDecoder:
        return AzureStreamDecoder(target)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        """Azure's error body is OpenAI's; `error.code` (e.g. `content_filter`) is kept."""
        return self._openai.map_error(status, headers, body, target)


def deployment_base(target: Target) -> str:
    """The resource endpoint, without the `/openai` suffix some people include.

    Azure has no default endpoint (it names the operator's own resource), so a missing one is
    a configuration problem, reported as such rather than as a failed connection.
    """
    endpoint = target.provider.base_url.rstrip("/")
    if not endpoint:
        raise ProviderNotConfigured(
            f"The provider '{target.provider_name}' has no endpoint: set {ENDPOINT_VAR} "
            "(https://<resource>.openai.azure.com).",
            provider=target.provider_name,
        )
    if endpoint.endswith("/openai"):
        endpoint = endpoint[: -len("/openai")]
    return endpoint
