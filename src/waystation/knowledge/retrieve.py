"""Knowledge retrieval inside chat completions (`orq.knowledge_bases`).

For each entry: the knowledge base by id or key (unknown → 404 naming the entry), the query
(its `query`, else the last user message's text, after variable substitution), the search with
the entry's overrides over the knowledge base's `retrieval_settings`, then the formatted chunks
go into the messages (`inject`). All entries are checked before any search, and the searches
run concurrently. What was searched, found and dropped, with timings, goes to the trace as
`extra["retrieval"]`; this runs before the cache lookup, so the cache key covers the context.
"""

from __future__ import annotations

import asyncio
from typing import Any

from waystation.core.call import ChatCall
from waystation.errors import InvalidRequest
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.inject import Block, format_block, inject, last_user_text
from waystation.knowledge.search import Outcome, Plan, Searcher, plan_search
from waystation.observe.trace import Trace


class ChatRetrieval:
    def __init__(self, engine: KnowledgeEngine) -> None:
        self.engine = engine
        self.searcher = Searcher(engine)

    async def __call__(self, call: ChatCall, trace: Trace) -> None:
        clock = self.engine.clock
        started = clock.monotonic()
        messages = call.body["messages"]
        default_query = last_user_text(messages).strip()
        jobs: list[tuple[dict[str, Any], dict[str, Any], Plan]] = []
        for i, entry in enumerate(call.knowledge):
            param = f"orq.knowledge_bases[{i}]."
            kb = await self.engine.kb_row(entry["knowledge_id"], f"{param}knowledge_id")
            query = (entry.get("query") or "").strip() or default_query
            if not query:
                raise InvalidRequest(f"{param}query is needed: there is no user message text "
                                     "to search with.", param=f"{param}query")
            jobs.append((entry, kb, plan_search(kb, entry, query, param)))
        outcomes = await asyncio.gather(*(self.searcher.search(kb, plan)
                                          for _, kb, plan in jobs))
        blocks = [Block(frozenset({kb["key"], kb["id"], entry["knowledge_id"]}), kb["key"],
                        format_block(kb["key"], outcome.hits))
                  for (entry, kb, _), outcome in zip(jobs, outcomes, strict=True)]
        placed = inject(messages, blocks)
        trace.extra["retrieval"] = {
            "total_ms": round((clock.monotonic() - started) * 1000, 3),
            "knowledge_bases": [_report(kb, plan, outcome, placed.get(kb["key"], ""))
                                for (_, kb, plan), outcome in zip(jobs, outcomes,
                                                                  strict=True)],
        }


def _report(kb: dict[str, Any], plan: Plan, outcome: Outcome, placed: str) -> dict[str, Any]:
    return {
        "knowledge_id": kb["id"], "key": kb["key"], "query": plan.query,
        "search_query": outcome.query, "search_type": plan.search_type,
        "top_k": plan.top_k, "threshold": plan.threshold,
        "rerank_model": plan.rerank.model if plan.rerank else None,
        "agentic_model": plan.agentic_model, "injected": placed,
        "matches": [{"id": h.id, "datasource_id": h.datasource_id,
                     "search_score": round(h.score, 6),
                     "rerank_score": None if h.rerank_score is None
                     else round(h.rerank_score, 6)} for h in outcome.hits],
        "dropped": outcome.dropped, "notes": outcome.notes, "timings_ms": outcome.timings,
    }
