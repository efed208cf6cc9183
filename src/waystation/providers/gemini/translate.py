"""The Gemini adapter: OpenAI-format calls in, `generateContent` over the wire, OpenAI out.

`POST {GEMINI_BASE_URL}/v1beta/models/{model}:generateContent` (or
`:streamGenerateContent?alt=sse` when streaming), the key in the `x-goog-api-key` header.
The adapter is pure: the clock it is given stamps `created` (Gemini's answers carry no time)
and makes an id when Gemini sends no `responseId`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from waystation.clock import Clock
from waystation.core.call import ChatCall
from waystation.errors import UpstreamError
from waystation.providers import wire_json
from waystation.providers.base import Target, WireRequest
from waystation.providers.gemini import errors
from waystation.providers.gemini.request import encode_request, endpoint
from waystation.providers.gemini.response import decode_answer
from waystation.providers.gemini.stream import GeminiStreamDecoder, malformed
from waystation.transport.sse import SSEParser


class GeminiAdapter:
    wire = "gemini"

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()

    def encode(self, call: ChatCall, target: Target, *, drop_unsupported: bool) -> WireRequest:
        body = encode_request(
            call.body, model=target.model, provider=target.provider_name, drop=drop_unsupported
        )
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if call.stream else "application/json",
        }
        if target.provider.api_key:
            headers["x-goog-api-key"] = target.provider.api_key
        headers.update(target.provider.headers)
        url = endpoint(target.provider.base_url, target.model, call.stream)
        return WireRequest("POST", url, headers, orjson.dumps(body))

    def decode(self, body: bytes, target: Target) -> dict[str, Any]:
        data = wire_json.json_object(body, target.provider_name, "answered with a body")
        try:
            return decode_answer(
                data,
                model=target.public_model,
                created=int(self._clock.now()),
                fallback_id=self._clock.ulid(),
                provider=target.provider_name,
            )
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise malformed(target.provider_name) from exc

    def event_parser(self) -> SSEParser:
        return SSEParser()

    def stream_decoder(self, target: Target) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(
            target, created=int(self._clock.now()), fallback_id=self._clock.ulid()
        )

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return errors.map_error(status, headers, body, target.provider_name)
