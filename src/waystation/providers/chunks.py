"""The OpenAI `chat.completion.chunk` shapes that every stream decoder builds.

A chunk carries the answer's head (id, object, creation time, public model name) and one
choice's delta, or, last, no choice and the usage.
"""

from __future__ import annotations

from typing import Any

from waystation.providers.base import Chunk


def chunk_head(chunk_id: str, created: int, model: str) -> Chunk:
    return {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model}


def delta_chunk(head: Chunk, delta: dict[str, Any], finish: str | None = None) -> Chunk:
    """A chunk of the first (only) choice: its delta, and the finish reason once it ends."""
    return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def usage_chunk(head: Chunk, usage: dict[str, Any]) -> Chunk:
    """The chunk after the finish that carries the usage (sent when the caller asked for it)."""
    return {**head, "choices": [], "usage": usage}
