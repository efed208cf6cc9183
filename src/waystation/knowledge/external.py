"""External knowledge bases: the search is the user's own service at `api_url`.

The gateway sends the search body (orq's external-knowledge-base contract: query, top_k,
threshold, search_type, filter_by, search_options, rerank_config) with
`Authorization: Bearer <api_key>` through its executor, and expects
`{"matches": [{id, text, vector?, metadata?, scores?: {search_score, rerank_score}}]}`.
A failure or a malformed answer is an upstream error naming the knowledge base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from waystation.errors import UpstreamBadResponse, UpstreamRejected, UpstreamUnavailable
from waystation.knowledge.backend import Row
from waystation.knowledge.model import Hit
from waystation.providers.base import WireRequest

if TYPE_CHECKING:
    from waystation.knowledge.search import Plan
    from waystation.providers.executor import Executor


def _body(plan: Plan, query: str) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "top_k": plan.top_k, "threshold": plan.threshold,
                            "search_type": plan.search_type,
                            "search_options": {"include_vectors": plan.include_vectors,
                                               "include_metadata": plan.include_metadata,
                                               "include_scores": plan.include_scores}}
    if plan.raw_filter:
        body["filter_by"] = plan.raw_filter
    if plan.rerank:
        body["rerank_config"] = {"model": plan.rerank.model, "threshold": plan.rerank.threshold,
                                 "top_k": plan.rerank.top_k}
    return body


async def external_search(executor: Executor, kb: Row, plan: Plan, query: str) -> list[Hit]:
    config = kb.get("external_config") or {}
    where = f"knowledge:{kb['key']}"
    wire = WireRequest("POST", config["api_url"], {
        "content-type": "application/json", "accept": "application/json",
        "authorization": f"Bearer {config.get('api_key', '')}"}, orjson.dumps(_body(plan, query)))
    resp = await executor.send(wire, where)
    if resp.status >= 500:
        raise UpstreamUnavailable(f"The external knowledge base {kb['key']!r} failed "
                                  f"({resp.status}).", provider=where,
                                  upstream_status=resp.status)
    if resp.status >= 300:
        raise UpstreamRejected(f"The external knowledge base {kb['key']!r} refused the search "
                               f"({resp.status}).", provider=where, status=502,
                               upstream_status=resp.status)
    return _parse(resp.body, where, kb["key"])[: plan.top_k]


def _parse(raw: bytes, where: str, key: str) -> list[Hit]:
    def bad(why: str) -> UpstreamBadResponse:
        return UpstreamBadResponse(f"The external knowledge base {key!r} answered {why}; "
                                   'expected {"matches": [{"id", "text", …}]}.', provider=where)

    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad("with something that is not JSON") from None
    matches = data.get("matches") if isinstance(data, dict) else None
    if not isinstance(matches, list):
        raise bad("without a matches list")
    hits = []
    for m in matches:
        if not isinstance(m, dict) or not isinstance(m.get("text"), str):
            raise bad("a match without text")
        raw_scores = m.get("scores")
        scores: dict[str, Any] = raw_scores if isinstance(raw_scores, dict) else {}
        score = scores.get("search_score")
        rerank = scores.get("rerank_score")
        vector = m.get("vector")
        hits.append(Hit(
            id=str(m.get("id") or ""), text=m["text"],
            metadata=m["metadata"] if isinstance(m.get("metadata"), dict) else {},
            datasource_id="", datasource_name=key,
            score=float(score) if isinstance(score, int | float) else 0.0,
            vector=vector if isinstance(vector, list) else None,
            rerank_score=float(rerank) if isinstance(rerank, int | float) else None))
    return hits
