"""The OpenAI chat wire format: the caller's body goes nearly as is.

What changes on the way out: the model name becomes the provider's, gateway-only fields on
messages (reasoning echoes, signatures, cache hints) are taken off, and parameters the provider
cannot take are refused by name. On the way back: `model` says `provider/model`, and every
choice carries a `finish_reason` from the five allowed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from waystation.core.call import ChatCall
from waystation.core.finish import normalise_finish_reason
from waystation.errors import UpstreamError
from waystation.providers import wire_json
from waystation.providers.base import Target, WireRequest
from waystation.providers.openai_compat.stream import OpenAIStreamDecoder
from waystation.providers.refusals import unsupported_parameter
from waystation.providers.upstream_status import error_for_status
from waystation.transport.sse import SSEParser

# Parameters of our API that OpenAI's own chat API does not take; a provider may list some of
# them as extras it does take (vLLM and others take `top_k`).
NON_OPENAI_PARAMS = ("top_k", "thinking", "cache_control")

# Message and part keys that only the gateway understands; they are echoes of earlier answers.
_MESSAGE_ONLY_KEYS = frozenset(
    {"reasoning", "reasoning_content", "reasoning_signature", "redacted_reasoning"}
)
_TOOL_CALL_ONLY_KEYS = frozenset({"thought_signature", "extra_content", "index"})
_GATEWAY_PART_TYPES = frozenset({"reasoning", "redacted_reasoning"})


class OpenAIAdapter:
    wire = "openai"

    def encode(self, call: ChatCall, target: Target, *, drop_unsupported: bool) -> WireRequest:
        body = dict(call.body)
        spec = target.provider.spec
        for param in NON_OPENAI_PARAMS:
            if param in body and param not in spec.extra_params:
                if not drop_unsupported:
                    raise unsupported_parameter(param, spec.name)
                del body[param]
        body["model"] = target.model
        body["messages"] = [_clean_message(m) for m in body["messages"]]
        headers = {"content-type": "application/json", "accept": "application/json"}
        if call.stream:
            headers["accept"] = "text/event-stream"
        if target.provider.api_key:
            headers["authorization"] = f"Bearer {target.provider.api_key}"
        headers.update(target.provider.headers)
        url = f"{target.provider.base_url}/chat/completions"
        return WireRequest("POST", url, headers, orjson.dumps(body))

    def decode(self, body: bytes, target: Target) -> dict[str, Any]:
        data = wire_json.json_answer(body, target.provider_name, "choices")
        data["model"] = target.public_model
        data.setdefault("object", "chat.completion")
        for choice in data["choices"]:
            choice["finish_reason"] = normalise_finish_reason(choice.get("finish_reason") or "stop")
        return data

    def event_parser(self) -> SSEParser:
        return SSEParser()

    def stream_decoder(self, target: Target) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(target)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        message, code, param = _error_fields(body)
        return error_for_status(
            status, message, provider=target.provider_name, headers=headers, code=code, param=param
        )


def _error_fields(body: bytes) -> tuple[str, str | None, str | None]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:300].decode("utf-8", "replace").strip(), None, None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        code = err.get("code")
        param = err.get("param")
        return (
            str(err.get("message") or ""),
            str(code) if code is not None else None,
            str(param) if param is not None else None,
        )
    if isinstance(err, str):
        return err, None, None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"], None, None
    return body[:300].decode("utf-8", "replace").strip(), None, None


def _clean_message(msg: dict[str, Any]) -> dict[str, Any]:
    """Drop gateway-only echoes; copy only when something has to go."""
    dirty = any(k in msg for k in _MESSAGE_ONLY_KEYS)
    content = msg.get("content")
    parts_dirty = isinstance(content, list) and any(
        isinstance(p, dict) and (p.get("type") in _GATEWAY_PART_TYPES or "cache_control" in p)
        for p in content
    )
    calls = msg.get("tool_calls")
    calls_dirty = isinstance(calls, list) and any(
        isinstance(c, dict) and any(k in c for k in _TOOL_CALL_ONLY_KEYS) for c in calls
    )
    if not (dirty or parts_dirty or calls_dirty or "cache_control" in msg):
        return msg
    out = {k: v for k, v in msg.items() if k not in _MESSAGE_ONLY_KEYS and k != "cache_control"}
    if parts_dirty:
        out["content"] = [
            {k: v for k, v in p.items() if k != "cache_control"}
            for p in content  # type: ignore[union-attr]
            if p.get("type") not in _GATEWAY_PART_TYPES
        ]
    if calls_dirty:
        out["tool_calls"] = [
            {k: v for k, v in c.items() if k not in _TOOL_CALL_ONLY_KEYS}
            for c in calls  # type: ignore[union-attr]
        ]
    return out
