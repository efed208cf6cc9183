"""The Anthropic Messages adapter: `POST {ANTHROPIC_BASE_URL}/v1/messages`.

Pure translation, like every adapter: the request body is built by `request.build_body`, the
answer decoded by `response.to_completion`, stream events by `stream.AnthropicStreamDecoder`,
error bodies by `errors.map_status_error`. Anthropic's responses carry no timestamp, so
`created` comes from an injected clock (the wall clock unless a test gives another).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from waystation.core.call import ChatCall
from waystation.errors import UpstreamError
from waystation.providers import wire_json
from waystation.providers.anthropic.errors import map_status_error
from waystation.providers.anthropic.policy import ParamPolicy
from waystation.providers.anthropic.profiles import profile_for
from waystation.providers.anthropic.request import build_body
from waystation.providers.anthropic.response import to_completion
from waystation.providers.anthropic.stream import AnthropicStreamDecoder
from waystation.providers.base import Target, WireRequest
from waystation.transport.sse import SSEParser

DEFAULT_VERSION = "2023-06-01"


class AnthropicAdapter:
    wire = "anthropic"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def encode(self, call: ChatCall, target: Target, *, drop_unsupported: bool) -> WireRequest:
        policy = ParamPolicy(target.provider_name, target.model, drop_unsupported)
        body = build_body(
            call.body, target.model, profile_for(target.model), policy, stream=call.stream
        )
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if call.stream else "application/json",
            "anthropic-version": target.provider.options.get("anthropic_version")
            or DEFAULT_VERSION,
        }
        if target.provider.api_key:
            headers["x-api-key"] = target.provider.api_key
        headers.update(target.provider.headers)
        url = f"{target.provider.base_url}/v1/messages"
        return WireRequest("POST", url, headers, orjson.dumps(body))

    def decode(self, body: bytes, target: Target) -> dict[str, Any]:
        data = wire_json.json_answer(body, target.provider_name, "content")
        return to_completion(data, target.public_model, int(self._clock()))

    def event_parser(self) -> SSEParser:
        return SSEParser()

    def stream_decoder(self, target: Target) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(target, int(self._clock()))

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return map_status_error(status, headers, body, target.provider_name)
