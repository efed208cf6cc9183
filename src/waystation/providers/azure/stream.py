"""Azure's OpenAI SSE → our chunks, without Azure's content-filter annotation frames.

Azure interleaves frames that carry only filter annotations: the first one
(`prompt_filter_results`, with an empty id, model and `created: 0`) and, with the asynchronous
filter, choices that hold `content_filter_results` but no `delta`. They are not part of the
answer: passed on, they would give the caller (and the accumulator) a chunk whose id is empty,
so they are dropped. The usage chunk (empty `choices` plus `usage`) is kept.
"""

from __future__ import annotations

from typing import Any

from waystation.providers.base import Chunk, Target
from waystation.providers.openai_compat.stream import OpenAIStreamDecoder
from waystation.transport.sse import SSEEvent


class AzureStreamDecoder:
    __slots__ = ("_inner",)

    def __init__(self, target: Target) -> None:
        self._inner = OpenAIStreamDecoder(target)

    def feed(self, event: SSEEvent) -> list[Chunk]:
        return [c for c in map(_without_annotations, self._inner.feed(event)) if c is not None]

    def close(self) -> list[Chunk]:
        return self._inner.close()


def _without_annotations(chunk: dict[str, Any]) -> dict[str, Any] | None:
    """The chunk minus annotation-only choices; None when nothing of the answer is left."""
    choices = chunk.get("choices")
    if not choices:
        return chunk if chunk.get("usage") else None
    kept = [c for c in choices if "delta" in c or c.get("finish_reason") is not None]
    if not kept:
        return chunk if chunk.get("usage") else None
    if len(kept) != len(choices):
        chunk["choices"] = kept
    for choice in kept:
        choice.setdefault("delta", {})
    return chunk
