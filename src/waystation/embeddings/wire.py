"""The seam between the embeddings service and each provider: pure translation, never I/O.

An embeddings adapter works in two steps so that batching stays out of it: `prepare` maps the
request's options to the provider's fields once (refusing, by name, what the provider cannot
take), and `encode` builds the wire request for one batch of inputs with those fields. `decode`
reads one batch's answer; `map_error` turns a non-2xx answer into the typed error the caller
sees. Rerank adapters have the same shape with a query and documents instead of inputs.
The executor does the sending; the attempt runner does retries and fallbacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from waystation.embeddings.base import Ranked
from waystation.embeddings.call import EmbedCall, Input, RerankCall
from waystation.errors import UpstreamBadResponse, UpstreamError
from waystation.providers.base import Target, WireRequest

Fields = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EmbedBatch:
    vectors: list[list[float]]
    prompt_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class RerankBatch:
    ranked: list[Ranked]  # indices are positions in the batch's documents
    total_tokens: int | None = None


class EmbedWire(Protocol):
    def batch_size(self, target: Target) -> int:
        """How many inputs one wire request may carry for this model."""

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        """The provider's fields for this call; raises `UnsupportedParameter` (unless `drop`)."""

    def encode(self, fields: Fields, inputs: Sequence[Input], target: Target) -> WireRequest: ...

    def decode(self, body: bytes, count: int, target: Target) -> EmbedBatch: ...

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError: ...


class RerankWire(Protocol):
    def batch_size(self, target: Target) -> int: ...

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields: ...

    def encode(
        self, fields: Fields, query: str, documents: Sequence[str], target: Target
    ) -> WireRequest: ...

    def decode(self, body: bytes, count: int, target: Target) -> RerankBatch: ...

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError: ...


def json_request(url: str, headers: Mapping[str, str], body: Fields) -> WireRequest:
    return WireRequest("POST", url, dict(headers), orjson.dumps(body))


def load_object(body: bytes, target: Target) -> dict[str, Any]:
    """A JSON object answer, or a 502: a provider's malformed answer is never a crash."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise bad_answer(target, "a body that is not a JSON object")
    return data


def bad_answer(target: Target, what: str) -> UpstreamBadResponse:
    return UpstreamBadResponse(
        f"{target.provider_name} answered with {what}", provider=target.provider_name
    )


def vector(value: Any, target: Target) -> list[float]:
    """One embedding as floats; anything else is a malformed answer."""
    if not isinstance(value, list) or not value:
        raise bad_answer(target, "an embedding that is not a list of numbers")
    out: list[float] = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise bad_answer(target, "an embedding that is not a list of numbers")
        out.append(float(x))
    return out


def vectors_in_order(items: Any, count: int, target: Target, key: str = "embedding"
                     ) -> list[list[float]]:
    """OpenAI-shaped `data: [{index, embedding}]` put back in input order, all present."""
    if not isinstance(items, list) or len(items) != count:
        raise bad_answer(target, f"{_len(items)} embeddings for {count} inputs")
    slots: list[list[float] | None] = [None] * count
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_answer(target, "an embedding entry that is not an object")
        index = item.get("index", position)
        if not isinstance(index, int) or not 0 <= index < count or slots[index] is not None:
            raise bad_answer(target, "embeddings with missing or repeated indices")
        slots[index] = vector(item.get(key), target)
    return [v for v in slots if v is not None]


def ranked_list(items: Any, count: int, target: Target) -> list[Ranked]:
    """`[{index, relevance_score}]` (Cohere, Jina, Voyage) → `Ranked`, scores kept in 0..1."""
    if not isinstance(items, list):
        raise bad_answer(target, "rerank results that are not a list")
    out: list[Ranked] = []
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get("relevance_score") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count:
            raise bad_answer(target, "a rerank result without a valid index")
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise bad_answer(target, "a rerank result without a relevance score")
        out.append(Ranked(index, clamp_score(float(score))))
    return out


def clamp_score(score: float) -> float:
    """The API promises relevance in 0..1; a provider's value outside it is held at the edge."""
    return min(1.0, max(0.0, score))


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _len(items: Any) -> int:
    return len(items) if isinstance(items, list) else 0
