"""A fake Cohere v2 embed and rerank server over real HTTP on 127.0.0.1.

`POST /v2/embed` checks what the real API requires (a bearer key, `model`, `input_type`, at
most 96 texts, known fields only) and answers deterministic vectors by type; `POST /v2/rerank`
scores each document by the words it shares with the query (0..1), best first, cut at
`top_n`. Faults are injected per model, as in every fake.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai_server import fake_vector
from tests.fakes.server import FakeServer

API_KEY = "co-fake-key"
EMBED_FIELDS = frozenset({"model", "input_type", "texts", "images", "inputs", "max_tokens",
                          "output_dimension", "embedding_types", "truncate", "priority"})
RERANK_FIELDS = frozenset({"model", "query", "documents", "top_n", "max_tokens_per_doc",
                           "priority"})
INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering",
                         "image"})


def overlap_score(query: str, document: str) -> float:
    """The share of the query's words found in the document: a relevance in 0..1."""
    words = set(re.findall(r"\w+", query.lower()))
    found = set(re.findall(r"\w+", document.lower()))
    return round(len(words & found) / len(words), 4) if words else 0.0


class FakeCohereEmbed(FakeServer):
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/embed", self._embed)
        app.router.add_post("/v2/rerank", self._rerank)

    def _fault_body(self, status: int) -> Any:
        return {"id": "fault", "message": f"injected failure {status}"}

    async def _checked(self, request: web.Request, fields: frozenset[str]
                       ) -> tuple[dict[str, Any], web.StreamResponse | None]:
        body = orjson.loads(await request.read())
        self._record(request, body)
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return body, web.json_response({"id": "x", "message": "invalid api token"},
                                           status=401)
        unknown = set(body) - fields
        if unknown:
            return body, web.json_response(
                {"id": "x", "message": f"invalid request: unknown field {sorted(unknown)[0]}"},
                status=400)
        return body, await self._answer_fault(request, self._take_fault(body.get("model", "")))

    async def _embed(self, request: web.Request) -> web.StreamResponse:
        body, failed = await self._checked(request, EMBED_FIELDS)
        if failed is not None:
            return failed
        texts = body.get("texts") or []
        if body.get("input_type") not in INPUT_TYPES:
            return web.json_response({"id": "x", "message": "invalid request: input_type is "
                                      "required for embed models v3 and higher"}, status=400)
        if not texts or len(texts) > 96:
            return web.json_response({"id": "x", "message": "invalid request: between 1 and 96 "
                                      "texts are allowed"}, status=400)
        dims = int(body.get("output_dimension") or 8)
        vectors = [fake_vector(t, dims) for t in texts]
        tokens = sum(len(t.split()) for t in texts)
        return web.json_response({
            "id": "emb-fake", "response_type": "embeddings_by_type",
            "embeddings": {"float": vectors}, "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        })

    async def _rerank(self, request: web.Request) -> web.StreamResponse:
        body, failed = await self._checked(request, RERANK_FIELDS)
        if failed is not None:
            return failed
        docs = body.get("documents") or []
        scored = [{"index": i, "relevance_score": overlap_score(body["query"], d)}
                  for i, d in enumerate(docs)]
        scored.sort(key=lambda r: r["relevance_score"], reverse=True)
        if body.get("top_n") is not None:
            scored = scored[: body["top_n"]]
        return web.json_response({
            "id": "rr-fake", "results": scored,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1},
                     "tokens": {"input_tokens": len(docs) * 3}},
        })
