"""An Anthropic Message → an OpenAI `chat.completion`; shared pieces for the stream decoder.

Text blocks become `content`, tool_use blocks `tool_calls` (input re-serialised as the
arguments string), thinking blocks `reasoning` + `reasoning_signature`, redacted thinking
`redacted_reasoning`. The chat format has one signature and one redacted field per message;
when an answer has several thinking blocks, their texts are joined and the first block's
signature and redacted data are kept (the stream decoder does the same, so streamed and
non-streamed answers agree).
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.providers.anthropic.tools import JSON_TOOL

# Anthropic's stop reasons → the chat finish reasons.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: Any, *, json_answer: bool) -> str:
    """The chat finish reason; a forced JSON tool call is the answer itself, so `stop`."""
    reason = FINISH_REASONS.get(str(stop_reason), "stop")
    if json_answer and reason == "tool_calls":
        return "stop"
    return reason


def arguments(value: Any) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


def map_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic counts cached input apart from `input_tokens`; chat usage counts it in."""
    read = usage.get("cache_read_input_tokens")
    written = usage.get("cache_creation_input_tokens")
    prompt = int(usage.get("input_tokens") or 0) + int(read or 0) + int(written or 0)
    completion = int(usage.get("output_tokens") or 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if read is not None or written is not None:
        out["prompt_tokens_details"] = {
            "cached_tokens": int(read or 0),
            "cache_creation_tokens": int(written or 0),
        }
    details = usage.get("output_tokens_details")
    if isinstance(details, dict) and details.get("thinking_tokens") is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": int(details["thinking_tokens"])}
    return out


def to_completion(
    data: dict[str, Any], public_model: str, created: int
) -> dict[str, Any]:
    message, json_answer = _message(data.get("content") or [])
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": finish_reason(data.get("stop_reason"), json_answer=json_answer),
    }
    out: dict[str, Any] = {
        "id": str(data.get("id") or ""),
        "object": "chat.completion",
        "created": created,
        "model": public_model,
        "choices": [choice],
    }
    if isinstance(data.get("usage"), dict):
        out["usage"] = map_usage(data["usage"])
    return out


def _message(blocks: list[dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    texts: list[str] = []
    thoughts: list[str] = []
    signature: str | None = None
    redacted: str | None = None
    calls: list[dict[str, Any]] = []
    json_answer = False
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "thinking":
            thoughts.append(block.get("thinking") or "")
            signature = signature or block.get("signature") or None
        elif kind == "redacted_thinking":
            redacted = redacted or block.get("data") or None
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            texts.append(arguments(block.get("input")))
            json_answer = True
        elif kind == "tool_use":
            calls.append({
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": arguments(block.get("input"))},
            })
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    if "".join(thoughts):
        message["reasoning"] = "".join(thoughts)
    if signature:
        message["reasoning_signature"] = signature
    if redacted:
        message["redacted_reasoning"] = redacted
    return message, json_answer
