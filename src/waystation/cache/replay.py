"""A cached `chat.completion` served again: as JSON, or re-chunked for a streaming caller.

The cache stores one complete, non-streamed completion per key (a streamed answer is
accumulated into one before storing), so a hit can be answered in either shape. The chunks
follow the order an OpenAI stream uses — role, reasoning, content, tool calls (id and name
first, then the arguments), the finish reason, the usage chunk last — and a parity test checks
that `core.accumulate.StreamAccumulator` adds them back up to the stored message.

Usage on a hit keeps the original token counts and marks the whole prompt as cached
(`prompt_tokens_details.cached_tokens = prompt_tokens`). Why not zero them: callers use the
counts to size context windows and to budget, and the answer *is* that many tokens; zeros would
describe a different (empty) answer. The fact that no provider was billed is carried by the
`x-waystation-cache: HIT` header and the trace, which record the hit as costing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

CHUNK_PARTS = 4
"""A text is replayed in about this many chunks: enough to exercise a client's stream handling,
few enough that a hit is cheap to send."""

_MIN_PART = 16

# Message fields carried as text deltas, in the order they are replayed (reasoning first).
_REASONING_FIELDS = ("reasoning", "reasoning_signature", "redacted_reasoning")
_ANSWER_FIELDS = ("content", "refusal")


def hit_completion(cached: bytes) -> dict[str, Any]:
    """The stored bytes as the completion a hit returns, with its usage marked as cached."""
    completion: dict[str, Any] = orjson.loads(cached)
    usage = completion.get("usage")
    if isinstance(usage, dict):
        completion["usage"] = usage_on_hit(usage)
    return completion


def usage_on_hit(usage: dict[str, Any]) -> dict[str, Any]:
    """Same counts, every prompt token reported as cached, no provider cache written."""
    out = dict(usage)
    details = dict(out.get("prompt_tokens_details") or {})
    details["cached_tokens"] = int(out.get("prompt_tokens") or 0)
    if "cache_creation_tokens" in details:
        details["cache_creation_tokens"] = 0
    out["prompt_tokens_details"] = details
    return out


def replay_chunks(
    completion: dict[str, Any], *, include_usage: bool = True
) -> list[dict[str, Any]]:
    """The `chat.completion.chunk` dicts a streaming client would have received.

    The usage chunk (`{"choices": [], "usage": …}`) comes last and only when the completion has
    usage and `include_usage` is set (the caller's `stream_options.include_usage`).
    """
    head = {
        "id": completion.get("id"),
        "object": "chat.completion.chunk",
        "created": completion.get("created"),
        "model": completion.get("model"),
    }
    if completion.get("system_fingerprint") is not None:
        head["system_fingerprint"] = completion["system_fingerprint"]
    chunks: list[dict[str, Any]] = []
    for position, choice in enumerate(completion.get("choices") or ()):
        index = choice.get("index", position)
        for delta in _deltas(choice.get("message") or {}):
            chunks.append({**head, "choices": [_choice(index, delta)]})
        final = _choice(index, {}, choice.get("finish_reason"))
        if choice.get("logprobs") is not None:
            final["logprobs"] = choice["logprobs"]
        chunks.append({**head, "choices": [final]})
    usage = completion.get("usage")
    if include_usage and usage is not None:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks


def _choice(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish}


def _deltas(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield {"role": message.get("role") or "assistant"}
    for key in _REASONING_FIELDS:
        yield from _text_deltas(key, message.get(key))
    for key in _ANSWER_FIELDS:
        yield from _text_deltas(key, message.get(key))
    for position, call in enumerate(message.get("tool_calls") or ()):
        yield from _tool_call_deltas(position, call)
    if message.get("audio"):
        yield {"audio": message["audio"]}


def _text_deltas(key: str, text: Any) -> Iterator[dict[str, Any]]:
    if isinstance(text, str) and text:
        for part in split_text(text):
            yield {key: part}


def _tool_call_deltas(position: int, call: dict[str, Any]) -> Iterator[dict[str, Any]]:
    index = call.get("index", position)
    fn = call.get("function") or {}
    first: dict[str, Any] = {
        "index": index,
        "id": call.get("id"),
        "type": call.get("type") or "function",
        "function": {"name": fn.get("name") or "", "arguments": ""},
    }
    for extra in ("thought_signature", "extra_content"):
        if call.get(extra) is not None:
            first[extra] = call[extra]
    yield {"tool_calls": [first]}
    arguments = fn.get("arguments")
    if isinstance(arguments, str) and arguments:
        for part in split_text(arguments):
            yield {"tool_calls": [{"index": index, "function": {"arguments": part}}]}


def split_text(text: str, parts: int = CHUNK_PARTS) -> list[str]:
    """`text` cut into at most `parts` pieces of at least a few characters each."""
    size = max(_MIN_PART, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]
