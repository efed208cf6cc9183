"""Cohere v2 chat SSE events → OpenAI chunks.

Cohere names each event by its `type` (message-start, content-start/-delta/-end,
tool-plan-delta, tool-call-start/-delta/-end, citation-start/-end, message-end, debug). Text
and thinking deltas become `content` and `reasoning` deltas, the tool plan becomes `content`
(as in the non-streamed answer), tool calls stream their arguments as they come, and
message-end carries the finish reason and usage. Citations and debug events have no OpenAI
form and are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from waystation.errors import UpstreamBadResponse, UpstreamConnectionError
from waystation.providers import wire_json
from waystation.providers.base import Chunk, Target
from waystation.providers.chunks import chunk_head, delta_chunk, usage_chunk
from waystation.providers.cohere import response
from waystation.transport.sse import SSEEvent


class CohereStreamDecoder:
    __slots__ = ("_created", "_done", "_id", "_target", "_tool_index")

    def __init__(self, target: Target, clock: Callable[[], float] = time.time) -> None:
        self._target = target
        self._created = int(clock())
        self._id = ""
        self._done = False
        self._tool_index: dict[int, int] = {}  # Cohere's tool-call index → ours

    def feed(self, event: SSEEvent) -> list[Chunk]:
        if not event.data or event.data == "[DONE]":
            return []
        data = self._load(event.data)
        kind = wire_json.text(data.get("type")) or event.event or ""
        handler = _HANDLERS.get(kind)
        return handler(self, data) if handler else []

    def close(self) -> list[Chunk]:
        if not self._done:
            raise UpstreamConnectionError(
                f"{self._target.provider_name} ended the stream before the answer was complete",
                provider=self._target.provider_name,
            )
        return []

    # -- events ---------------------------------------------------------------------------
    def _message_start(self, data: dict[str, Any]) -> list[Chunk]:
        self._id = wire_json.text(data.get("id")) or self._id
        return [self._chunk({"role": "assistant"})]

    def _content(self, data: dict[str, Any]) -> list[Chunk]:
        content = _path(data, "delta", "message", "content")
        delta: dict[str, Any] = {}
        if wire_json.text(content.get("text")):
            delta["content"] = content["text"]
        if wire_json.text(content.get("thinking")):
            delta["reasoning"] = content["thinking"]
        lp = wire_json.obj(data.get("logprobs"))
        if not delta and not lp:
            return []
        chunk = self._chunk(delta)
        if lp:
            entries = response.logprob_entries([lp])
            chunk["choices"][0]["logprobs"] = {"content": entries, "refusal": None}
        return [chunk]

    def _tool_plan(self, data: dict[str, Any]) -> list[Chunk]:
        plan = wire_json.text(_path(data, "delta", "message").get("tool_plan"))
        return [self._chunk({"content": plan})] if plan else []

    def _tool_call_start(self, data: dict[str, Any]) -> list[Chunk]:
        raw = _path(data, "delta", "message", "tool_calls")
        index = self._tool_index.setdefault(_index(data), len(self._tool_index))
        call = response.tool_call(raw)
        return [self._chunk({"tool_calls": [{"index": index, **call}]})]

    def _tool_call_delta(self, data: dict[str, Any]) -> list[Chunk]:
        fn = _path(data, "delta", "message", "tool_calls", "function")
        args = wire_json.text(fn.get("arguments"))
        if not args:
            return []
        index = self._tool_index.get(_index(data))
        if index is None:
            raise UpstreamBadResponse(
                f"{self._target.provider_name} streamed tool arguments before the tool call",
                provider=self._target.provider_name,
            )
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": args}}]})]

    def _message_end(self, data: dict[str, Any]) -> list[Chunk]:
        delta = wire_json.obj(data.get("delta"))
        name = self._target.provider_name
        reason = response.finish_reason(delta.get("finish_reason"), delta.get("error"), name)
        self._done = True
        out = [self._chunk({}, reason)]
        usage = response.usage(delta.get("usage"))
        if usage is not None:
            out.append(usage_chunk(self._head(), usage))
        return out

    # -- shapes ---------------------------------------------------------------------------
    def _head(self) -> Chunk:
        return chunk_head(self._id, self._created, self._target.public_model)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        return delta_chunk(self._head(), delta, finish)

    def _load(self, raw: str) -> dict[str, Any]:
        return wire_json.json_object(raw, self._target.provider_name, "sent a stream event")


def _index(data: dict[str, Any]) -> int:
    return wire_json.count(data.get("index"))


def _path(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The object at `keys`, or an empty one: optional layers of an event are often absent."""
    node: Any = data
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


_HANDLERS: dict[str, Callable[[CohereStreamDecoder, dict[str, Any]], list[Chunk]]] = {
    "message-start": CohereStreamDecoder._message_start,
    "content-start": CohereStreamDecoder._content,
    "content-delta": CohereStreamDecoder._content,
    "tool-plan-delta": CohereStreamDecoder._tool_plan,
    "tool-call-start": CohereStreamDecoder._tool_call_start,
    "tool-call-delta": CohereStreamDecoder._tool_call_delta,
    "message-end": CohereStreamDecoder._message_end,
}
