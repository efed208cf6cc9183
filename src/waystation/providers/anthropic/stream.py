"""Anthropic stream events → OpenAI `chat.completion.chunk` dicts.

The events: `message_start` (id and input usage), then per content block a
`content_block_start`, its `content_block_delta`s (`text_delta`, `input_json_delta`,
`thinking_delta`, `signature_delta`) and a `content_block_stop`; then `message_delta` (stop
reason and final usage) and `message_stop`. `ping` is a keep-alive; `error` ends the stream
with an error, raised here as the matching upstream error.

Tool calls keep their own index (Anthropic numbers every block, chat numbers only tool calls):
the first delta of a call carries index, id, type and name, then the argument fragments follow
as they arrive. A tool call whose arguments never arrived is closed with `{}`, as the
non-streamed answer would say.
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.errors import UpstreamBadResponse, UpstreamConnectionError
from waystation.providers.anthropic.errors import map_stream_error
from waystation.providers.anthropic.response import finish_reason, map_usage
from waystation.providers.anthropic.tools import JSON_TOOL
from waystation.providers.base import Chunk, Target
from waystation.providers.chunks import chunk_head, delta_chunk, usage_chunk
from waystation.transport.sse import SSEEvent


class _Block:
    """What a content block is, as far as its deltas are concerned."""

    __slots__ = ("has_args", "kind", "tool_index")

    def __init__(self, kind: str, tool_index: int | None = None) -> None:
        self.kind = kind  # text | thinking | redacted | tool | json | other
        self.tool_index = tool_index
        self.has_args = False


class AnthropicStreamDecoder:
    def __init__(self, target: Target, created: int) -> None:
        self._target = target
        self._created = created
        self._id = ""
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._json_answer = False
        self._signed = False
        self._redacted = False
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._finished = False

    # -- chunk building ----------------------------------------------------------------
    def _head(self) -> Chunk:
        return chunk_head(self._id, self._created, self._target.public_model)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        return delta_chunk(self._head(), delta, finish)

    # -- events ------------------------------------------------------------------------
    def feed(self, event: SSEEvent) -> list[Chunk]:
        if not event.data:
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise self._bad("a stream event that is not JSON") from None
        if not isinstance(data, dict):
            raise self._bad("a stream event that is not an object")
        kind = data.get("type") or event.event
        handler = _HANDLERS.get(str(kind))
        return handler(self, data) if handler is not None else []

    def _on_message_start(self, data: dict[str, Any]) -> list[Chunk]:
        message = data.get("message") or {}
        self._id = str(message.get("id") or "")
        self._usage.update(message.get("usage") or {})
        return [self._chunk({"role": "assistant"})]

    def _on_block_start(self, data: dict[str, Any]) -> list[Chunk]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        index = int(data.get("index", len(self._blocks)))
        if kind == "tool_use" and block.get("name") == JSON_TOOL:
            self._json_answer = True
            self._blocks[index] = _Block("json")
            return []
        if kind == "tool_use":
            self._blocks[index] = _Block("tool", self._tools)
            self._tools += 1
            call = {"index": self._tools - 1, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "text":
            self._blocks[index] = _Block("text")
            return self._text(block.get("text"))
        if kind == "thinking":
            self._blocks[index] = _Block("thinking")
            return self._thinking(block.get("thinking"), block.get("signature"))
        if kind == "redacted_thinking":
            self._blocks[index] = _Block("redacted")
            if self._redacted or not block.get("data"):
                return []
            self._redacted = True
            return [self._chunk({"redacted_reasoning": block["data"]})]
        self._blocks[index] = _Block("other")
        return []

    def _on_block_delta(self, data: dict[str, Any]) -> list[Chunk]:
        block = self._blocks.get(int(data.get("index", -1)))
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if block is None:
            raise self._bad("a delta for a content block that never started")
        if kind == "text_delta":
            return self._text(delta.get("text"))
        if kind == "thinking_delta":
            return self._thinking(delta.get("thinking"), None)
        if kind == "signature_delta":
            return self._thinking(None, delta.get("signature"))
        if kind == "input_json_delta":
            return self._arguments(block, delta.get("partial_json") or "")
        return []

    def _on_block_stop(self, data: dict[str, Any]) -> list[Chunk]:
        block = self._blocks.get(int(data.get("index", -1)))
        if block is None or block.has_args or block.kind not in ("tool", "json"):
            return []
        return self._arguments(block, "{}")  # a call without arguments: `{}`, as decode says

    def _on_message_delta(self, data: dict[str, Any]) -> list[Chunk]:
        delta = data.get("delta") or {}
        if delta.get("stop_reason") is not None:
            self._stop_reason = delta["stop_reason"]
        usage = data.get("usage") or {}
        self._usage.update({k: v for k, v in usage.items() if v is not None})
        return []

    def _on_message_stop(self, data: dict[str, Any]) -> list[Chunk]:
        return self._finish()

    def _on_error(self, data: dict[str, Any]) -> list[Chunk]:
        raise map_stream_error(data, self._target.provider_name)

    # -- pieces ------------------------------------------------------------------------
    def _text(self, text: Any) -> list[Chunk]:
        return [self._chunk({"content": text})] if text else []

    def _thinking(self, text: Any, signature: Any) -> list[Chunk]:
        delta: dict[str, Any] = {}
        if text:
            delta["reasoning"] = text
        if signature and not self._signed:
            self._signed = True
            delta["reasoning_signature"] = signature
        return [self._chunk(delta)] if delta else []

    def _arguments(self, block: _Block, fragment: str) -> list[Chunk]:
        if not fragment:
            return []
        block.has_args = True
        if block.kind == "json":
            return [self._chunk({"content": fragment})]
        if block.kind != "tool":
            return []
        call = {"index": block.tool_index, "function": {"arguments": fragment}}
        return [self._chunk({"tool_calls": [call]})]

    def _finish(self) -> list[Chunk]:
        if self._finished:
            return []
        self._finished = True
        reason = finish_reason(self._stop_reason, json_answer=self._json_answer)
        return [self._chunk({}, reason), usage_chunk(self._head(), map_usage(self._usage))]

    def close(self) -> list[Chunk]:
        if self._finished:
            return []
        if self._stop_reason is not None:
            return self._finish()  # the answer was complete; only message_stop went missing
        raise UpstreamConnectionError(
            f"{self._target.provider_name} ended the stream before the answer was complete",
            provider=self._target.provider_name,
        )

    def _bad(self, what: str) -> UpstreamBadResponse:
        name = self._target.provider_name
        return UpstreamBadResponse(f"{name} sent {what}", provider=name)


_HANDLERS = {
    "message_start": AnthropicStreamDecoder._on_message_start,
    "content_block_start": AnthropicStreamDecoder._on_block_start,
    "content_block_delta": AnthropicStreamDecoder._on_block_delta,
    "content_block_stop": AnthropicStreamDecoder._on_block_stop,
    "message_delta": AnthropicStreamDecoder._on_message_delta,
    "message_stop": AnthropicStreamDecoder._on_message_stop,
    "error": AnthropicStreamDecoder._on_error,
}
