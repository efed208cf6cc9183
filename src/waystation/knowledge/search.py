"""One search over a knowledge base, for `POST /v2/knowledge/{id}/search` and for chat.

Pipeline: (agentic RAG) rewrite the query → retrieve by vector, keyword or both (fused by
reciprocal rank) → drop matches under `threshold` → keep `top_k` → (rerank) reorder with the
rerank model, keep its `top_k` above its threshold → (agentic RAG) drop the matches the model
grades irrelevant. An external knowledge base is asked over HTTP instead of the local index.
Each step's duration is kept for the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waystation.errors import GatewayError, InvalidRequest
from waystation.knowledge.agentic import grade, rewrite
from waystation.knowledge.backend import Row
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.external import external_search
from waystation.knowledge.filters import Filter, parse_filter
from waystation.knowledge.model import Hit
from waystation.knowledge.records import match_out
from waystation.knowledge.scores import fuse

HYBRID_POOL = 4  # each list of a hybrid search holds this many times top_k candidates
MAX_POOL = 200


@dataclass(frozen=True, slots=True)
class Rerank:
    model: str
    threshold: float
    top_k: int


@dataclass(frozen=True, slots=True)
class Plan:
    query: str
    top_k: int
    threshold: float
    search_type: str
    filter: Filter | None
    raw_filter: Any
    include_vectors: bool = False
    include_metadata: bool = True
    include_scores: bool = True
    rerank: Rerank | None = None
    agentic_model: str | None = None


@dataclass(slots=True)
class Outcome:
    query: str  # the query searched with (rewritten by agentic RAG when it ran)
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per step
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # ids graded irrelevant

    def matches(self, plan: Plan) -> list[dict[str, Any]]:
        return [match_out(h, vectors=plan.include_vectors, metadata=plan.include_metadata,
                          scores=plan.include_scores) for h in self.hits]


def plan_search(kb: Row, request: dict[str, Any], query: str, param: str = "") -> Plan:
    """The request's fields over the knowledge base's stored `retrieval_settings`.

    `request` holds only what the caller sent (a `SearchBody` or a `KnowledgeBaseQuery`);
    `param` prefixes the names in errors (`orq.knowledge_bases[0].`).
    """
    stored = kb.get("retrieval_settings") or {}
    options = request.get("search_options") or {}

    def pick(name: str, stored_name: str, default: Any) -> Any:
        value = request.get(name)
        return value if value is not None else stored.get(stored_name, default)

    rerank = None
    if request.get("rerank_config"):
        r = request["rerank_config"]
        rerank = Rerank(r["model"], r.get("threshold") or 0.0, r.get("top_k") or 10)
    elif stored.get("rerank_config"):
        r = stored["rerank_config"]
        rerank = Rerank(r["rerank_model"], r.get("rerank_threshold", 0.5), r.get("top_k", 5))
    agentic = request.get("agentic_rag_config") or stored.get("agentic_rag_config")
    return Plan(
        query=query,
        top_k=int(pick("top_k", "top_k", 5)),
        threshold=float(pick("threshold", "threshold", 0.0)),
        search_type=str(pick("search_type", "retrieval_type", "hybrid_search")),
        filter=parse_filter(request.get("filter_by"), f"{param}filter_by"),
        raw_filter=request.get("filter_by"),
        include_vectors=bool(options.get("include_vectors") or False),
        include_metadata=options.get("include_metadata") is not False,
        include_scores=options.get("include_scores") is not False,
        rerank=rerank,
        agentic_model=agentic["model"] if agentic else None,
    )


class Searcher:
    def __init__(self, engine: KnowledgeEngine) -> None:
        self.engine = engine

    async def search(self, kb: Row, plan: Plan) -> Outcome:
        clock = self.engine.clock
        outcome = Outcome(query=plan.query, hits=[])
        started = clock.monotonic()

        def lap(step: str) -> None:
            nonlocal started
            now = clock.monotonic()
            outcome.timings[step] = round((now - started) * 1000, 3)
            started = now

        runner = self.engine.parts.runner
        if plan.agentic_model:
            outcome.query = await rewrite(runner, plan.agentic_model, plan.query, outcome.notes)
            lap("rewrite_ms")
        if kb["type"] == "external":
            outcome.hits = await external_search(self.engine.parts.executor, kb, plan,
                                                 outcome.query)
        else:
            outcome.hits = await self._retrieve(kb, plan, outcome.query)
        lap("retrieve_ms")
        if plan.rerank and outcome.hits:
            outcome.hits = await self._rerank(plan.rerank, outcome.query, outcome.hits)
            lap("rerank_ms")
        if plan.agentic_model and outcome.hits:
            keep = await grade(runner, plan.agentic_model, outcome.query,
                               [h.text for h in outcome.hits], outcome.notes)
            outcome.dropped = [h.id for h, k in zip(outcome.hits, keep, strict=True) if not k]
            outcome.hits = [h for h, k in zip(outcome.hits, keep, strict=True) if k]
            lap("grade_ms")
        return outcome

    async def _retrieve(self, kb: Row, plan: Plan, query: str) -> list[Hit]:
        backend = self.engine.backend
        kind = plan.search_type
        pool = plan.top_k if kind != "hybrid_search" else min(MAX_POOL,
                                                               plan.top_k * HYBRID_POOL)
        by_vector: list[Hit] = []
        by_keyword: list[Hit] = []
        if kind in ("vector_search", "hybrid_search") and kb.get("dimensions"):
            vector = (await self.engine.embed_texts(kb, [query], "search_query"))[0]
            if len(vector) != kb["dimensions"]:
                raise InvalidRequest(
                    f"The embedding model {kb['embedding_model']} answered {len(vector)} "
                    f"dimensions; this knowledge base holds {kb['dimensions']}.",
                    code="dimension_mismatch")
            by_vector = await backend.vector_search(kb["id"], vector, pool, plan.filter,
                                                    plan.include_vectors)
        if kind in ("keyword_search", "hybrid_search"):
            by_keyword = await backend.keyword_search(kb["id"], query, pool, plan.filter,
                                                      plan.include_vectors)
        if kind == "hybrid_search":
            found = {h.id: h for h in by_keyword} | {h.id: h for h in by_vector}
            hits = []
            for chunk_id, score in fuse([[h.id for h in by_vector],
                                         [h.id for h in by_keyword]]):
                hit = found[chunk_id]
                hit.extra = {"vector_score": next((h.score for h in by_vector
                                                   if h.id == chunk_id), None),
                             "keyword_score": next((h.score for h in by_keyword
                                                    if h.id == chunk_id), None)}
                hit.score = score
                hits.append(hit)
        else:
            hits = by_vector if kind == "vector_search" else by_keyword
        return [h for h in hits if h.score >= plan.threshold][: plan.top_k]

    async def _rerank(self, rerank: Rerank, query: str, hits: list[Hit]) -> list[Hit]:
        service = getattr(self.engine.parts, "reranker", None)
        if service is None:
            raise GatewayError("No rerank service is configured on this gateway.",
                               status=503, code="rerank_unavailable")
        ranked = await service.rerank(rerank.model, query, [h.text for h in hits],
                                      top_n=rerank.top_k)
        out = []
        for r in ranked[: rerank.top_k]:
            if 0 <= r.index < len(hits) and r.score >= rerank.threshold:
                hit = hits[r.index]
                hit.rerank_score = r.score
                out.append(hit)
        return out
