"""ConverseStream events (event-stream frames) → OpenAI chunks.

Events: messageStart; contentBlockStart (a tool call's id and name); contentBlockDelta (text,
tool input fragments, reasoning text / signature / redacted content); contentBlockStop;
messageStop (the stop reason); metadata (usage). Exception frames become the matching upstream
error. Tool input streams as argument fragments as it comes; the structured-output tool's input
streams as content, as it is decoded in the non-streamed answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waystation.errors import UpstreamBadResponse, UpstreamConnectionError
from waystation.providers import wire_json
from waystation.providers.base import Chunk, Target
from waystation.providers.bedrock import response
from waystation.providers.bedrock.errors import map_stream_exception
from waystation.providers.bedrock.eventstream import Frame
from waystation.providers.bedrock.params import JSON_TOOL
from waystation.providers.chunks import chunk_head, delta_chunk, usage_chunk

JSON_BLOCK = -1  # marks the block that carries structured output


class BedrockStreamDecoder:
    __slots__ = ("_blocks", "_created", "_id", "_redacted", "_stopped", "_target")

    def __init__(self, target: Target, clock: Callable[[], float], new_id: Callable[[], str]
                 ) -> None:
        self._target = target
        self._created = int(clock())
        self._id = new_id()
        self._blocks: dict[int, int] = {}  # contentBlockIndex → our tool index, or JSON_BLOCK
        self._redacted = False
        self._stopped = False

    @property
    def _provider(self) -> str:
        return self._target.provider_name

    def feed(self, frame: Frame) -> list[Chunk]:
        if frame.message_type != "event":
            raise map_stream_exception(frame, self._provider)
        handler = _HANDLERS.get(frame.event_type)
        return handler(self, self._load(frame.payload)) if handler else []

    def close(self) -> list[Chunk]:
        if not self._stopped:
            raise UpstreamConnectionError(
                f"{self._provider} ended the stream before the answer was complete",
                provider=self._provider,
            )
        return []

    # -- events ---------------------------------------------------------------------------
    def _message_start(self, data: dict[str, Any]) -> list[Chunk]:
        return [self._chunk({"role": "assistant"})]

    def _block_start(self, data: dict[str, Any]) -> list[Chunk]:
        use = wire_json.obj(data.get("start")).get("toolUse")
        if not isinstance(use, dict):
            return []
        block = wire_json.count(data.get("contentBlockIndex"))
        if use.get("name") == JSON_TOOL:
            self._blocks[block] = JSON_BLOCK
            return []
        index = sum(1 for v in self._blocks.values() if v != JSON_BLOCK)
        self._blocks[block] = index
        call = {"index": index, "id": wire_json.text(use.get("toolUseId")) or None,
                "type": "function",
                "function": {"name": wire_json.text(use.get("name")), "arguments": ""}}
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, data: dict[str, Any]) -> list[Chunk]:
        delta = wire_json.obj(data.get("delta"))
        if "text" in delta:
            piece = wire_json.text(delta["text"])
            return [self._chunk({"content": piece})] if piece else []
        if "toolUse" in delta:
            block = wire_json.count(data.get("contentBlockIndex"))
            return self._tool_input(block, wire_json.obj(delta["toolUse"]))
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            return self._reasoning(reasoning)
        return []

    def _tool_input(self, block: int, use: dict[str, Any]) -> list[Chunk]:
        fragment = wire_json.text(use.get("input"))
        index = self._blocks.get(block)
        if index is None:
            raise UpstreamBadResponse(
                f"{self._provider} streamed tool input before the tool call started",
                provider=self._provider,
            )
        if not fragment:
            return []
        if index == JSON_BLOCK:
            return [self._chunk({"content": fragment})]
        return [self._chunk({"tool_calls": [{"index": index,
                                              "function": {"arguments": fragment}}]})]

    def _reasoning(self, reasoning: dict[str, Any]) -> list[Chunk]:
        delta: dict[str, Any] = {}
        if wire_json.text(reasoning.get("text")):
            delta["reasoning"] = reasoning["text"]
        if wire_json.text(reasoning.get("signature")):
            delta["reasoning_signature"] = reasoning["signature"]
        if wire_json.text(reasoning.get("redactedContent")):
            # several redacted blocks travel as one string, one block per line
            prefix = "\n" if self._redacted else ""
            delta["redacted_reasoning"] = prefix + reasoning["redactedContent"]
            self._redacted = True
        return [self._chunk(delta)] if delta else []

    def _message_stop(self, data: dict[str, Any]) -> list[Chunk]:
        called = any(v != JSON_BLOCK for v in self._blocks.values())
        reason = response.finish_reason(data.get("stopReason"), called_tools=called,
                                        provider=self._provider)
        self._stopped = True
        return [self._chunk({}, reason)]

    def _metadata(self, data: dict[str, Any]) -> list[Chunk]:
        usage = response.usage(data.get("usage"))
        if usage is None:
            return []
        return [usage_chunk(self._head(), usage)]

    # -- shapes ---------------------------------------------------------------------------
    def _head(self) -> Chunk:
        return chunk_head(self._id, self._created, self._target.public_model)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        return delta_chunk(self._head(), delta, finish)

    def _load(self, payload: bytes) -> dict[str, Any]:
        if not payload:
            return {}
        return wire_json.json_object(payload, self._provider, "sent a stream event")


_HANDLERS: dict[str, Callable[[BedrockStreamDecoder, dict[str, Any]], list[Chunk]]] = {
    "messageStart": BedrockStreamDecoder._message_start,
    "contentBlockStart": BedrockStreamDecoder._block_start,
    "contentBlockDelta": BedrockStreamDecoder._block_delta,
    "messageStop": BedrockStreamDecoder._message_stop,
    "metadata": BedrockStreamDecoder._metadata,
}
