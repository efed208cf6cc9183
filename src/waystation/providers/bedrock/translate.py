"""AWS Bedrock Converse: `POST {endpoint}/model/{modelId}/converse` (and `/converse-stream`).

The request is built by `messages.py` (system blocks, alternating turns, content blocks) and
`params.py` (inferenceConfig, toolConfig, additionalModelRequestFields); it is then signed
(SigV4, or a bearer API key) by `auth.py`. Answers go back through `response.py`; streams are
binary event-stream frames (`eventstream.py`) decoded by `stream.py`.

Converse answers carry no id and no timestamp, so the adapter makes them (injectable, for
golden tests).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from waystation.core.call import ChatCall
from waystation.errors import UpstreamError
from waystation.providers import wire_json
from waystation.providers.base import Target, WireRequest
from waystation.providers.bedrock import response
from waystation.providers.bedrock.auth import BedrockAuth, CredentialSource
from waystation.providers.bedrock.errors import map_http_error
from waystation.providers.bedrock.eventstream import EventStreamParser
from waystation.providers.bedrock.messages import to_converse
from waystation.providers.bedrock.params import translate_params
from waystation.providers.bedrock.stream import BedrockStreamDecoder
from waystation.providers.refusals import Refusals

DEFAULT_REGION = "us-east-1"


def _chat_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class BedrockAdapter:
    wire = "bedrock"

    def __init__(
        self,
        credentials: CredentialSource | None = None,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = _chat_id,
    ) -> None:
        self._auth = BedrockAuth(credentials)
        self._clock = clock
        self._new_id = new_id

    def encode(self, call: ChatCall, target: Target, *, drop_unsupported: bool) -> WireRequest:
        refusals = Refusals(target.provider_name, drop_unsupported)
        system, turns = to_converse(call.body["messages"], refusals)
        request: dict[str, Any] = {"messages": turns}
        if system:
            request["system"] = system
        translate_params(call.body, request, refusals)
        region = target.provider.options.get("region") or DEFAULT_REGION
        url = model_url(target, region, stream=call.stream)
        body = orjson.dumps(request)
        headers = {
            "content-type": "application/json",
            "accept": "application/vnd.amazon.eventstream" if call.stream else "application/json",
            **dict(target.provider.headers),
        }
        signed = self._auth.headers(provider=target.provider_name, token=target.provider.api_key,
                                    region=region, url=url, body=body, headers=headers)
        return WireRequest("POST", url, signed, body)

    def decode(self, body: bytes, target: Target) -> dict[str, Any]:
        name = target.provider_name
        data = wire_json.json_object(body, name, "answered with a body")
        output = wire_json.obj(data.get("output"))
        message, called = response.message(output.get("message"), name)
        reason = response.finish_reason(data.get("stopReason"), called_tools=called,
                                        provider=name)
        out: dict[str, Any] = {
            "id": self._new_id(),
            "object": "chat.completion",
            "created": int(self._clock()),
            "model": target.public_model,
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
        }
        usage = response.usage(data.get("usage"))
        if usage is not None:
            out["usage"] = usage
        return out

    def event_parser(self) -> EventStreamParser:
        return EventStreamParser()

    def stream_decoder(self, target: Target) -> BedrockStreamDecoder:
        return BedrockStreamDecoder(target, self._clock, self._new_id)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return map_http_error(status, headers, body, target.provider_name)


def model_url(target: Target, region: str, *, stream: bool) -> str:
    """The operation's URL. The model id is one path segment: `/` (in ARNs) is escaped, `:` is
    left as is, so the path the HTTP client sends is byte for byte the path that was signed."""
    endpoint = target.provider.base_url or f"https://bedrock-runtime.{region}.amazonaws.com"
    operation = "converse-stream" if stream else "converse"
    return f"{endpoint.rstrip('/')}/model/{quote(target.model, safe=':')}/{operation}"
