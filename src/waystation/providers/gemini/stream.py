"""Gemini `streamGenerateContent?alt=sse` events → OpenAI `chat.completion.chunk` dicts.

Each SSE event holds a whole `GenerateContentResponse` covering the next slice of every
candidate: text arrives in pieces, a function call arrives whole, the last slice of a candidate
carries its `finishReason`. `usageMetadata` may come with any event and the last one counts;
it goes out as the usage chunk when the stream ends. There is no `[DONE]`: the stream is
complete when every candidate has finished (or the prompt was blocked), and a stream that stops
before that is an error, not a short answer.
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.errors import UpstreamBadResponse, UpstreamConnectionError
from waystation.providers.base import Chunk, Target
from waystation.providers.chunks import chunk_head, usage_chunk
from waystation.providers.gemini.errors import stream_error
from waystation.providers.gemini.response import (
    ChoiceState,
    blocked_delta,
    candidate_delta,
    finish_reason,
    logprobs,
    usage,
)
from waystation.transport.sse import SSEEvent


def malformed(provider: str) -> UpstreamBadResponse:
    """An answer whose fields are not of the types Gemini documents: never a 500."""
    return UpstreamBadResponse(
        f"{provider} answered in a shape that does not match the Gemini API",
        provider=provider,
    )


class GeminiStreamDecoder:
    __slots__ = ("_choices", "_created", "_fallback_id", "_id", "_target", "_usage")

    def __init__(self, target: Target, *, created: int, fallback_id: str) -> None:
        self._target = target
        self._created = created
        self._fallback_id = fallback_id
        self._id: str | None = None
        self._choices: dict[int, ChoiceState] = {}
        self._usage: dict[str, Any] | None = None

    def feed(self, event: SSEEvent) -> list[Chunk]:
        if not event.data.strip():
            return []
        data = self._load(event.data)
        if "error" in data and "candidates" not in data:
            raise stream_error(data["error"], self._target.provider_name)
        if self._id is None:
            self._id = str(data.get("responseId") or self._fallback_id)
        if data.get("usageMetadata"):
            self._usage = data["usageMetadata"]
        try:
            return self._answer_slice(data)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise malformed(self._target.provider_name) from exc

    def _answer_slice(self, data: dict[str, Any]) -> list[Chunk]:
        cands = data.get("candidates") or []
        block = (data.get("promptFeedback") or {}).get("blockReason")
        if block and not cands:
            return self._blocked(str(block))
        out: list[Chunk] = []
        for pos, cand in enumerate(cands):
            out.extend(self._candidate(cand, pos))
        return out

    def close(self) -> list[Chunk]:
        if not self._choices or any(s.finish is None for s in self._choices.values()):
            raise UpstreamConnectionError(
                f"{self._target.provider_name} ended the stream before the answer was complete",
                provider=self._target.provider_name,
            )
        counted = usage(self._usage)
        if counted is None:
            return []
        return [usage_chunk(self._head(), counted)]

    def _candidate(self, cand: dict[str, Any], pos: int) -> list[Chunk]:
        index = int(cand.get("index", pos))
        state = self._choices.setdefault(index, ChoiceState())
        if state.finish is not None:
            return []  # a finished candidate has nothing more to say
        assert self._id is not None
        delta = candidate_delta(cand, state, self._id, index)
        if not state.started:
            delta = {"role": "assistant", **delta}
            state.started = True
        out: list[Chunk] = []
        lp = logprobs(cand)
        if delta or lp is not None:
            out.append(self._chunk(index, delta, None, lp))
        raw = cand.get("finishReason")
        if raw:
            state.finish = finish_reason(raw, state.calls > 0, self._target.provider_name)
            out.append(self._chunk(index, {}, state.finish, None))
        return out

    def _blocked(self, block: str) -> list[Chunk]:
        state = self._choices.setdefault(0, ChoiceState())
        if state.finish is not None:
            return []
        state.started = True
        state.finish = "content_filter"
        return [self._chunk(0, blocked_delta(block), None, None),
                self._chunk(0, {}, "content_filter", None)]

    def _chunk(
        self, index: int, delta: dict[str, Any], finish: str | None, lp: dict[str, Any] | None
    ) -> Chunk:
        choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": finish}
        if lp is not None:
            choice["logprobs"] = lp
        return {**self._head(), "choices": [choice]}

    def _head(self) -> Chunk:
        return chunk_head(self._id or self._fallback_id, self._created, self._target.public_model)

    def _load(self, text: str) -> dict[str, Any]:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse(
                f"{self._target.provider_name} sent a stream event that is not JSON",
                provider=self._target.provider_name,
            ) from None
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise UpstreamBadResponse(
                f"{self._target.provider_name} sent a stream event that is not an object",
                provider=self._target.provider_name,
            )
        return data
