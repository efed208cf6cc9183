"""Cohere v2 answers → OpenAI terms: finish reasons, usage, log probabilities, the message.

Shared by the non-streamed decoder and the stream decoder, so that both paths build the same
answer (the parity test checks it).
"""

from __future__ import annotations

from typing import Any

from waystation.errors import UpstreamBadResponse, UpstreamError, UpstreamTimeout

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
    reason = str(value or "COMPLETE").upper()
    if reason in FAILED:
        detail = f": {error}" if error else ""
        text = f"{provider} could not finish the answer ({reason}){detail}"
        if reason == "TIMEOUT":
            raise UpstreamTimeout(text, provider=provider)
        raise UpstreamError(text, provider=provider, code="upstream_generation_failed")
    return FINISH_REASONS.get(reason, "stop")


def usage(raw: Any) -> dict[str, Any] | None:
    """Billed units when Cohere reports them (what the caller pays for), else raw tokens."""
    if not isinstance(raw, dict):
        return None
    counted = raw.get("billed_units") or {}
    if counted.get("input_tokens") is None and counted.get("output_tokens") is None:
        counted = raw.get("tokens") or {}
    prompt = int(counted.get("input_tokens") or 0)
    completion = int(counted.get("output_tokens") or 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if raw.get("cached_tokens") is not None:
        out["prompt_tokens_details"] = {"cached_tokens": int(raw["cached_tokens"])}
    return out


def logprob_entries(items: Any) -> list[dict[str, Any]]:
    """Cohere gives log probabilities per text piece (several tokens each): one entry per piece.

    The piece's log probability is the sum of its tokens' (the probability of the whole
    piece); Cohere returns no alternatives, so `top_logprobs` is empty.
    """
    out = []
    for item in items if isinstance(items, list) else ():
        text = str(item.get("text") or "")
        out.append({
            "token": text,
            "logprob": float(sum(item.get("logprobs") or ())),
            "bytes": list(text.encode()),
            "top_logprobs": [],
        })
    return out


def tool_call(raw: dict[str, Any]) -> dict[str, Any]:
    fn = raw.get("function") or {}
    return {
        "id": raw.get("id"),
        "type": "function",
        "function": {"name": fn.get("name") or "", "arguments": fn.get("arguments") or ""},
    }


def message(raw: Any, provider: str) -> dict[str, Any]:
    """The assistant message: `tool_plan` and text → content, thinking → reasoning."""
    if not isinstance(raw, dict):
        raise UpstreamBadResponse(f"{provider} answered without a message", provider=provider)
    texts = [raw["tool_plan"]] if raw.get("tool_plan") else []
    thoughts = []
    for item in raw.get("content") or ():
        if item.get("type") == "text" and item.get("text"):
            texts.append(item["text"])
        elif item.get("type") == "thinking" and item.get("thinking"):
            thoughts.append(item["thinking"])
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thoughts:
        out["reasoning"] = "".join(thoughts)
    if raw.get("tool_calls"):
        out["tool_calls"] = [tool_call(c) for c in raw["tool_calls"]]
    return out
