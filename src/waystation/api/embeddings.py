"""The embeddings and rerank requests and answers (`POST /v2/router/embeddings`, `/v1/embeddings`,
`POST /v2/router/rerank`), and raw bytes → a validated call or a 400 naming the field.

The orq features these endpoints take are the routing ones (retry, fallbacks,
fallback_on_codes, timeout, load_balancer), the exact-match cache, a trace name and the
identity (`orq.identity`, or the older `orq.contact`) the trace is attributed to; each may be
given at the top level or inside `orq` (the top level wins). The others the SDK can send —
plugins, a rerank `filename` — are refused with a 400 naming them: an accepted field must do
what it says. `input_type` is this gateway's extension: what the
texts are embedded for, told to the providers whose models embed queries and documents
differently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import ConfigDict, Field, ValidationError

from waystation.api import LazyModel
from waystation.api.chat_request import (
    Cache,
    Contact,
    Fallback,
    FallbackCodes,
    LoadBalancer,
    LoadBalancerEntry,
    Retry,
    Timeout,
)
from waystation.api.errors_path import invalid_request_from
from waystation.api.messages import Strict
from waystation.api.validate import pick_feature, routing_options
from waystation.cache.policy import requested_ttl
from waystation.embeddings.call import EmbedCall, Input, RerankCall
from waystation.errors import InvalidRequest, UnsupportedFeature

InputType = Literal["search_document", "search_query", "classification", "clustering"]
TokenArray = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
EmbeddingInput = (
    str
    | Annotated[list[str], Field(min_length=1)]
    | TokenArray
    | Annotated[list[str | TokenArray], Field(min_length=1)]
)


class RoutingFields(Strict):
    """The orq features shared by the top level and the `orq` object."""

    model_config = ConfigDict(defer_build=True)  # see api/__init__.py

    name: str | None = None
    retry: Retry | None = None
    fallbacks: list[Fallback] | None = None
    fallback_on_codes: FallbackCodes | None = None
    cache: Cache | None = None
    load_balancer: LoadBalancer | list[LoadBalancerEntry] | None = None
    timeout: Timeout | None = None


class OrqFields(RoutingFields):
    contact: Contact | None = None
    identity: Contact | None = None


class EmbeddingRequest(RoutingFields):
    """`POST /v2/router/embeddings` and `POST /v1/embeddings`."""

    input: EmbeddingInput
    model: str | None = None
    dimensions: Annotated[int, Field(ge=1)] | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None
    input_type: InputType | None = None
    orq: OrqFields | None = None


class RerankRequest(RoutingFields):
    """`POST /v2/router/rerank`."""

    query: Annotated[str, Field(min_length=1)]
    documents: Annotated[list[str], Field(min_length=1)]
    model: str | None = None
    top_n: Annotated[int, Field(ge=1)] | None = None
    return_documents: bool | None = None
    filename: str | None = None
    plugins: list[dict[str, Any]] | None = None
    orq: OrqFields | None = None


class EmbeddingItem(LazyModel):
    object: Literal["embedding"] = "embedding"
    embedding: list[float] | str
    index: int


class EmbeddingUsage(LazyModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(LazyModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage


class RerankDocument(LazyModel):
    text: str


class RerankResult(LazyModel):
    object: Literal["rerank"] = "rerank"
    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankUsage(LazyModel):
    total_tokens: int


class RerankList(LazyModel):
    object: Literal["list"] = "list"
    id: str
    results: list[RerankResult]
    model: str
    usage: RerankUsage | None = None


# Fields the SDK may send that this gateway does not build; each is refused, naming it.
NOT_BUILT = {
    "plugins": "plugins",
    "filename": "file names",
}


def parse_embedding_request(raw: bytes) -> EmbedCall:
    data = _load_object(raw)
    try:
        req = EmbeddingRequest.model_validate(data)
    except ValidationError as exc:
        raise invalid_request_from(exc, data) from None
    _refuse_unbuilt(data)
    inputs: list[Input] = _inputs(req.input)
    for i, item in enumerate(inputs):
        if item == "":
            raise InvalidRequest("An input must not be an empty string.", param=f"input[{i}]")
    return EmbedCall(
        model=_model(req),
        inputs=inputs,
        dimensions=req.dimensions,
        user=req.user,
        input_type=req.input_type,
        encoding_format=req.encoding_format or "float",
        routing=routing_options(req),
        cache_ttl=requested_ttl(data),
        name=pick_feature(req, "name"),
        contact=_contact(req),
    )


def parse_rerank_request(raw: bytes) -> RerankCall:
    data = _load_object(raw)
    try:
        req = RerankRequest.model_validate(data)
    except ValidationError as exc:
        raise invalid_request_from(exc, data) from None
    _refuse_unbuilt(data)
    return RerankCall(
        model=_model(req),
        query=req.query,
        documents=req.documents,
        top_n=req.top_n,
        return_documents=bool(req.return_documents),
        routing=routing_options(req),
        cache_ttl=requested_ttl(data),
        name=pick_feature(req, "name"),
        contact=_contact(req),
    )


def _load_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return data


def _inputs(value: Any) -> list[Input]:
    """`"text"`, `["a", "b"]`, `[1, 2, 3]` (one token array) or `[[1, 2], "c"]`."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(v, int) for v in value):
        return [list(value)]
    return list(value)


def _refuse_unbuilt(data: dict[str, Any]) -> None:
    raw_orq = data.get("orq")
    orq: dict[str, Any] = raw_orq if isinstance(raw_orq, dict) else {}
    for path, feature in NOT_BUILT.items():
        value = orq.get(path[4:]) if path.startswith("orq.") else data.get(path)
        if value is not None:
            raise UnsupportedFeature(
                f"'{path}' ({feature}) is not supported by this gateway's embeddings and rerank "
                "endpoints; remove the field.",
                param=path,
            )


def _contact(req: EmbeddingRequest | RerankRequest) -> dict[str, Any] | None:
    """`orq.identity` is the newer name of `orq.contact`; the newer one wins."""
    if req.orq is None:
        return None
    person = req.orq.identity or req.orq.contact
    return person.model_dump(exclude_none=True) if person is not None else None


def _model(req: EmbeddingRequest | RerankRequest) -> str:
    if req.model is None and pick_feature(req, "load_balancer") is None:
        raise InvalidRequest("model is required unless a load_balancer is given.", param="model")
    return req.model or ""


