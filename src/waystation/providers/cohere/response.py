"""Cohere v2 answers → OpenAI terms: finish reasons, usage, log probabilities, the message.

Shared by the non-streamed decoder and the stream decoder, so that both paths build the same
answer (the parity test checks it). The wire's JSON is read as it comes
(`providers.wire_json`): a part of the wrong type reads as absent, so an answer of an
unexpected shape never crashes the gateway (what is left is checked, and a missing message is
an upstream error).
"""

from __future__ import annotations

from typing import Any

from waystation.errors import UpstreamBadResponse, UpstreamError, UpstreamTimeout
from waystation.providers.wire_json import count, items, obj, text

# Cohere finish reason → OpenAI finish reason. ERROR and TIMEOUT are failures, not answers.
FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter",
    "ERROR_LIMIT": "length",
    "USER_CANCEL": "stop",
}
FAILED = frozenset({"ERROR", "TIMEOUT"})


def finish_reason(value: Any, error: Any, provider: str) -> str:
    """The OpenAI finish reason, or the error that a failed generation is."""
    reason = text(value).upper() or "COMPLETE"
    if reason in FAILED:
        detail = f": {text(error)}" if text(error) else ""
        message = f"{provider} could not finish the answer ({reason}){detail}"
        if reason == "TIMEOUT":
            raise UpstreamTimeout(message, provider=provider)
        raise UpstreamError(message, provider=provider, code="upstream_generation_failed")
    return FINISH_REASONS.get(reason, "stop")


def usage(raw: Any) -> dict[str, Any] | None:
    """Billed units when Cohere reports them (what the caller pays for), else raw tokens."""
    if not isinstance(raw, dict):
        return None
    counted = obj(raw.get("billed_units"))
    if counted.get("input_tokens") is None and counted.get("output_tokens") is None:
        counted = obj(raw.get("tokens"))
    prompt = count(counted.get("input_tokens"))
    completion = count(counted.get("output_tokens"))
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if raw.get("cached_tokens") is not None:
        out["prompt_tokens_details"] = {"cached_tokens": count(raw["cached_tokens"])}
    return out


def logprob_entries(raw_items: Any) -> list[dict[str, Any]]:
    """Cohere gives log probabilities per text piece (several tokens each): one entry per piece.

    The piece's log probability is the sum of its tokens' (the probability of the whole
    piece); Cohere returns no alternatives, so `top_logprobs` is empty.
    """
    out = []
    for item in items(raw_items):
        piece = text(item.get("text"))
        raw_logprobs = item.get("logprobs")
        logprobs = raw_logprobs if isinstance(raw_logprobs, list) else []
        total = sum(float(v) for v in logprobs if isinstance(v, int | float))
        out.append({
            "token": piece,
            "logprob": total,
            "bytes": list(piece.encode()),
            "top_logprobs": [],
        })
    return out


def tool_call(raw: Any) -> dict[str, Any]:
    call, fn = obj(raw), obj(obj(raw).get("function"))
    return {
        "id": text(call.get("id")) or None,
        "type": "function",
        "function": {"name": text(fn.get("name")), "arguments": text(fn.get("arguments"))},
    }


def message(raw: Any, provider: str) -> dict[str, Any]:
    """The assistant message: `tool_plan` and text → content, thinking → reasoning."""
    if not isinstance(raw, dict):
        raise UpstreamBadResponse(f"{provider} answered without a message", provider=provider)
    texts = [text(raw.get("tool_plan"))] if text(raw.get("tool_plan")) else []
    thoughts = []
    for item in items(raw.get("content")):
        if item.get("type") == "text" and text(item.get("text")):
            texts.append(item["text"])
        elif item.get("type") == "thinking" and text(item.get("thinking")):
            thoughts.append(item["thinking"])
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thoughts:
        out["reasoning"] = "".join(thoughts)
    calls = items(raw.get("tool_calls"))
    if calls:
        out["tool_calls"] = [tool_call(c) for c in calls]
    return out
