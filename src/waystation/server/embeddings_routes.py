"""The embeddings and rerank routes: validate, consult the cache, run the service, answer, and
leave a trace (vectors are not kept in it: only how many and how long).

`register_embedding_routes(gateway)` adds the routes to the gateway's table and returns the
service, which the gateway also offers to the rest of the code as `embeddings` and `reranker`.
"""

from __future__ import annotations

import array
import base64
import sys
from typing import TYPE_CHECKING, Any

import orjson

from waystation.api.embeddings import (
    EmbeddingList,
    EmbeddingRequest,
    RerankList,
    RerankRequest,
    parse_embedding_request,
    parse_rerank_request,
)
from waystation.cache import CACHE_HEADER, cache_key
from waystation.embeddings.base import Embeddings
from waystation.embeddings.call import EmbedCall, RerankCall
from waystation.embeddings.service import EmbeddingsService, Reranked
from waystation.errors import GatewayError
from waystation.observe.trace import Trace
from waystation.routing.options import RoutingOptions
from waystation.server.http import JSON_HEADERS, Request
from waystation.server.routing import Route

if TYPE_CHECKING:
    from waystation.server.app import Gateway

EMBEDDING_PATHS = (
    "/v2/router/embeddings",
    "/v1/embeddings",
    "/v2/proxy/embeddings",
    "/v3/router/embeddings",
)
RERANK_PATHS = ("/v2/router/rerank", "/v1/rerank")
Headers = list[tuple[bytes, bytes]]


def register_embedding_routes(gateway: Gateway) -> EmbeddingsService:
    service = EmbeddingsService(gateway.settings, gateway.executor, gateway.clock, gateway.health)
    embeddings = EmbeddingsHandler(gateway, service)
    rerank = RerankHandler(gateway, service)
    for path in EMBEDDING_PATHS:
        gateway.router.add(Route("POST", path, embeddings, summary="Create embeddings",
                                 body=EmbeddingRequest, answer=EmbeddingList, tag="embeddings"))
    for path in RERANK_PATHS:
        gateway.router.add(Route("POST", path, rerank, summary="Rank documents by relevance",
                                 body=RerankRequest, answer=RerankList, tag="embeddings"))
    return service


class _Handler:
    endpoint = ""

    def __init__(self, gateway: Gateway, service: EmbeddingsService) -> None:
        self._gateway = gateway
        self._service = service

    async def __call__(self, req: Request) -> None:
        gateway = self._gateway
        started = gateway.clock.monotonic()
        trace = Trace(id=req.request_id, created=gateway.clock.now(), key_id=req.log.get("key"))
        trace.extra["endpoint"] = self.endpoint
        try:
            raw = await req.body(gateway.settings.max_body_bytes)
            body, headers = await self._handle(raw, req, trace)
            req.log["answered_by"] = trace.model
            await req.send_bytes(200, body, JSON_HEADERS, headers)
        except GatewayError as exc:
            trace.error = exc.body()
            trace.status = exc.status
            raise
        finally:
            if trace.attempts:
                req.log["attempts"] = len(trace.attempts)
            trace.latency_ms = (gateway.clock.monotonic() - started) * 1000
            trace.status = trace.status or req.status
            gateway.recorder.record(trace)

    async def _handle(self, raw: bytes, req: Request, trace: Trace) -> tuple[bytes, Headers]:
        raise NotImplementedError

    async def _cached(
        self, req: Request, trace: Trace, ttl: float | None, models: list[str],
        key_body: dict[str, Any], compute: Any,
    ) -> tuple[bytes, Headers]:
        """The answer from the cache when the request asked for it (and it is there)."""
        if ttl is None:
            return await compute(), self._headers(trace)

        async def fill() -> tuple[bytes, bool]:
            return await compute(), True

        key = cache_key(trace.key_id or "anonymous", models, key_body)
        value, hit = await self._gateway.cache.get_or_compute(key, fill, ttl)
        trace.cache_hit = hit
        req.log["cache"] = "HIT" if hit else "MISS"
        if hit:
            answer = orjson.loads(value)
            trace.model = answer.get("model")
            trace.usage = answer.get("usage")
        return value, [(CACHE_HEADER, b"HIT" if hit else b"MISS"), *self._headers(trace)]

    @staticmethod
    def _headers(trace: Trace) -> Headers:
        return [(b"x-waystation-model", str(trace.model or "").encode()),
                (b"x-waystation-attempts", str(len(trace.attempts)).encode())]


class EmbeddingsHandler(_Handler):
    endpoint = "embeddings"

    async def _handle(self, raw: bytes, req: Request, trace: Trace) -> tuple[bytes, Headers]:
        call = parse_embedding_request(raw)
        describe(trace, req, call)
        trace.request = {"model": call.model, "inputs": len(call.inputs),
                         "dimensions": call.dimensions, "input_type": call.input_type}

        async def compute() -> bytes:
            result = await self._service.embed_call(call, trace.attempts)
            answer = embedding_answer(result, call.encoding_format)
            trace.model, trace.usage = result.model, answer["usage"]
            dims = len(result.vectors[0]) if result.vectors else 0
            trace.response = {"object": "list", "vectors": len(result.vectors), "dimensions": dims}
            return orjson.dumps(answer)

        key_body = {"endpoint": self.endpoint, "input": call.inputs, "dimensions": call.dimensions,
                    "input_type": call.input_type, "encoding_format": call.encoding_format}
        return await self._cached(req, trace, call.cache_ttl, model_set(call), key_body, compute)


class RerankHandler(_Handler):
    endpoint = "rerank"

    async def _handle(self, raw: bytes, req: Request, trace: Trace) -> tuple[bytes, Headers]:
        call = parse_rerank_request(raw)
        describe(trace, req, call)
        trace.request = {"model": call.model, "query": call.query,
                         "documents": len(call.documents), "top_n": call.top_n}

        async def compute() -> bytes:
            result = await self._service.rerank_call(call, trace.attempts)
            answer = rerank_answer(result, call, f"rerank-{self._gateway.clock.ulid()}")
            trace.model, trace.usage = result.model, answer.get("usage")
            trace.response = {"object": "list", "results": len(result.ranked)}
            return orjson.dumps(answer)

        key_body = {"endpoint": self.endpoint, "query": call.query, "documents": call.documents,
                    "top_n": call.top_n, "return_documents": call.return_documents}
        return await self._cached(req, trace, call.cache_ttl, model_set(call), key_body, compute)


def describe(trace: Trace, req: Request, call: EmbedCall | RerankCall) -> None:
    """Who and what the trace is about: model, name, and the identity (from the body, else
    the `X-ORQ-IDENTITY-ID` header), as for chat."""
    req.log["model"] = trace.requested_model = call.model
    trace.name = call.name
    trace.contact = call.contact
    trace.contact_external_id = (
        call.contact["id"] if call.contact
        else req.headers.get("x-orq-identity-id") or req.headers.get("x-orq-contact-id")
    )


def model_set(call: EmbedCall | RerankCall) -> list[str]:
    """Every model the call may be answered by, in plan order: the cache key's model list."""
    routing: RoutingOptions = call.routing
    first = [m for m, _ in routing.balanced] or [call.model]
    return first + [m for m in routing.fallbacks if m not in first]


def embedding_answer(result: Embeddings, encoding_format: str) -> dict[str, Any]:
    tokens = result.prompt_tokens or 0
    encode = as_base64 if encoding_format == "base64" else None
    data = [
        {"object": "embedding", "embedding": encode(v) if encode else v, "index": i}
        for i, v in enumerate(result.vectors)
    ]
    return {"object": "list", "data": data, "model": result.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def as_base64(vector: list[float]) -> str:
    """OpenAI's base64 form: the float32 values, little-endian, base64-encoded."""
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def rerank_answer(result: Reranked, call: RerankCall, answer_id: str) -> dict[str, Any]:
    results = []
    for r in result.ranked:
        item: dict[str, Any] = {"object": "rerank", "index": r.index, "relevance_score": r.score}
        if call.return_documents:
            item["document"] = {"text": call.documents[r.index]}
        results.append(item)
    answer: dict[str, Any] = {"object": "list", "id": answer_id, "results": results,
                              "model": result.model}
    if result.total_tokens is not None:
        answer["usage"] = {"total_tokens": result.total_tokens}
    return answer
