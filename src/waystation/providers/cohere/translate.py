"""Cohere v2 chat: `POST {base}/v2/chat` with a bearer key.

The request is built from the parameter tables in `params.py` and the message translation in
`messages.py`; answers and stream events go back through `response.py` and `stream.py`.
Errors are Cohere's `{"message": …}` bodies, mapped by status (Cohere's own 498 "invalid
token" is a credentials problem like 401; its 499 "request cancelled" is a failed attempt).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from waystation.core.call import ChatCall
from waystation.errors import UpstreamError
from waystation.providers import wire_json
from waystation.providers.base import Target, WireRequest
from waystation.providers.cohere import response
from waystation.providers.cohere.messages import to_cohere_messages
from waystation.providers.cohere.params import translate_params
from waystation.providers.cohere.stream import CohereStreamDecoder
from waystation.providers.refusals import Refusals
from waystation.providers.upstream_status import error_for_status
from waystation.transport.sse import SSEParser

# Cohere's non-standard statuses → the standard status with the same meaning.
STATUS_ALIASES = {498: 401, 499: 502}


class CohereAdapter:
    wire = "cohere"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def encode(self, call: ChatCall, target: Target, *, drop_unsupported: bool) -> WireRequest:
        refusals = Refusals(target.provider_name, drop_unsupported)
        body: dict[str, Any] = {
            "model": target.model,
            "messages": to_cohere_messages(call.body["messages"], refusals),
        }
        body.update(translate_params(call.body, refusals))
        body["stream"] = call.stream
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if call.stream else "application/json",
        }
        if target.provider.api_key:
            headers["authorization"] = f"Bearer {target.provider.api_key}"
        headers.update(target.provider.headers)
        url = f"{target.provider.base_url}/v2/chat"
        return WireRequest("POST", url, headers, orjson.dumps(body))

    def decode(self, body: bytes, target: Target) -> dict[str, Any]:
        name = target.provider_name
        data = wire_json.json_object(body, name, "answered with a body")
        reason = response.finish_reason(data.get("finish_reason"), data.get("error"), name)
        choice: dict[str, Any] = {
            "index": 0,
            "message": response.message(data.get("message"), name),
            "finish_reason": reason,
        }
        if data.get("logprobs"):
            choice["logprobs"] = {
                "content": response.logprob_entries(data["logprobs"]),
                "refusal": None,
            }
        out: dict[str, Any] = {
            "id": wire_json.text(data.get("id")),
            "object": "chat.completion",
            "created": int(self._clock()),
            "model": target.public_model,
            "choices": [choice],
        }
        usage = response.usage(data.get("usage"))
        if usage is not None:
            out["usage"] = usage
        return out

    def event_parser(self) -> SSEParser:
        return SSEParser()

    def stream_decoder(self, target: Target) -> CohereStreamDecoder:
        return CohereStreamDecoder(target, self._clock)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        message = _error_message(body)
        err = error_for_status(
            STATUS_ALIASES.get(status, status), message, provider=target.provider_name,
            headers=headers,
        )
        err.upstream_status = status
        return err


def _error_message(body: bytes) -> str:
    """Cohere's error body is `{"id": …, "message": …}`; anything else is shown as text."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return body[:300].decode("utf-8", "replace").strip()
