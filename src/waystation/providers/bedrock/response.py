"""Converse answers → OpenAI terms: stop reasons, usage and the assistant message.

Shared by the non-streamed decoder and the stream decoder, so both build the same answer. The
wire's JSON is read as it comes (`providers.wire_json`): a part of the wrong type reads as
absent, so an answer of an unexpected shape never crashes the gateway.
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.errors import UpstreamBadResponse, UpstreamError
from waystation.providers.bedrock.params import JSON_TOOL
from waystation.providers.wire_json import count, items, obj, text

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
# The model produced something unusable: a failed attempt, not an answer.
FAILED = frozenset({"malformed_model_output", "malformed_tool_use"})


def finish_reason(stop_reason: Any, *, called_tools: bool, provider: str) -> str:
    """The OpenAI finish reason. `tool_use` for the structured-output tool alone is `stop`."""
    reason = text(stop_reason) or "end_turn"
    if reason in FAILED:
        raise UpstreamError(f"{provider} could not finish the answer ({reason})",
                            provider=provider, code="upstream_generation_failed")
    if reason == "tool_use" and not called_tools:
        return "stop"
    return STOP_REASONS.get(reason, "stop")


def usage(raw: Any) -> dict[str, Any] | None:
    """Converse counts cache reads and writes apart from `inputTokens`; OpenAI's prompt
    tokens include them, with the cached part in the details."""
    if not isinstance(raw, dict):
        return None
    read = count(raw.get("cacheReadInputTokens"))
    write = count(raw.get("cacheWriteInputTokens"))
    prompt = count(raw.get("inputTokens")) + read + write
    completion = count(raw.get("outputTokens"))
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if "cacheReadInputTokens" in raw or "cacheWriteInputTokens" in raw:
        out["prompt_tokens_details"] = {"cached_tokens": read, "cache_creation_tokens": write}
    return out


def arguments(value: Any) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


def message(raw: Any, provider: str) -> tuple[dict[str, Any], bool]:
    """The assistant message, and whether it calls tools (the structured-output tool aside)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("content"), list):
        raise UpstreamBadResponse(f"{provider} answered without a message", provider=provider)
    texts: list[str] = []
    thoughts: list[str] = []
    redacted: list[str] = []
    signature: str | None = None
    calls: list[dict[str, Any]] = []
    for block in items(raw["content"]):
        if "text" in block:
            texts.append(text(block["text"]))
        elif "reasoningContent" in block:
            reasoning = obj(block["reasoningContent"])
            if text(reasoning.get("redactedContent")):
                redacted.append(reasoning["redactedContent"])
            text_block = obj(reasoning.get("reasoningText"))
            thoughts.append(text(text_block.get("text")))
            signature = text(text_block.get("signature")) or signature
        elif "toolUse" in block:
            use = obj(block["toolUse"])
            if use.get("name") == JSON_TOOL:
                texts.append(arguments(use.get("input")))
                continue
            calls.append({"id": text(use.get("toolUseId")) or None, "type": "function",
                          "function": {"name": text(use.get("name")),
                                       "arguments": arguments(use.get("input"))}})
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if any(thoughts):
        out["reasoning"] = "".join(thoughts)
    if signature:
        out["reasoning_signature"] = signature
    if redacted:
        out["redacted_reasoning"] = "\n".join(redacted)
    if calls:
        out["tool_calls"] = calls
    return out, bool(calls)
