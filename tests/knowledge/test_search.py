"""Search on a small corpus with known answers, on both backends: each mode, top_k,
thresholds on the documented 0-1 scores, disabled chunks, dimensions, rerank, agentic RAG."""

from __future__ import annotations

import pytest

from tests.knowledge.corpus import load
from tests.knowledge.fakes import ScriptedRunner
from waystation.errors import InvalidRequest
from waystation.knowledge.agentic import parse_grades, parse_rewrite
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.ports import NewChunk
from waystation.knowledge.scores import cosine_score, fuse, rank_score
from waystation.knowledge.search import Searcher, plan_search


async def run(engine: KnowledgeEngine, key: str, query: str, **request: object) -> list[str]:
    kb = await engine.kb_row(key)
    outcome = await Searcher(engine).search(kb, plan_search(kb, dict(request), query))
    return [h.id for h in outcome.hits]


@pytest.mark.parametrize("kind", ["vector_search", "keyword_search", "hybrid_search"])
async def test_each_mode_finds_the_chunk_about_the_question(
    engine: KnowledgeEngine, kind: str,
) -> None:
    key, _, ids = await load(engine)
    assert (await run(engine, key, "reset password settings", search_type=kind))[0] == ids[0]
    assert (await run(engine, key, "refunds annual plans", search_type=kind))[0] == ids[2]


async def test_keyword_search_stems_words(engine: KnowledgeEngine) -> None:
    key, _, ids = await load(engine)
    assert await run(engine, key, "retry", search_type="keyword_search") == [ids[4]]


async def test_top_k_limits_and_orders_by_score(engine: KnowledgeEngine) -> None:
    key, _, _ = await load(engine)
    kb = await engine.kb_row(key)
    plan = plan_search(kb, {"search_type": "hybrid_search", "top_k": 3}, "billing refunds")
    hits = (await Searcher(engine).search(kb, plan)).hits
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.score <= 1.0 for h in hits)


async def test_threshold_drops_weak_matches(engine: KnowledgeEngine) -> None:
    key, _, ids = await load(engine)
    kb = await engine.kb_row(key)
    searcher = Searcher(engine)
    for kind in ("vector_search", "keyword_search", "hybrid_search"):
        loose = (await searcher.search(kb, plan_search(
            kb, {"search_type": kind, "top_k": 10}, "reset password"))).hits
        cut = (loose[0].score + loose[-1].score) / 2
        strict = (await searcher.search(kb, plan_search(
            kb, {"search_type": kind, "top_k": 10, "threshold": cut}, "reset password"))).hits
        assert strict[0].id == ids[0]
        assert [h.id for h in strict] == [h.id for h in loose if h.score >= cut]
        assert len(strict) < len(loose) or kind == "keyword_search"


async def test_stored_retrieval_settings_apply_and_requests_override_them(
    engine: KnowledgeEngine,
) -> None:
    key, _, ids = await load(engine, retrieval_type="keyword_search", top_k=1)
    assert await run(engine, key, "billing invoices") == [ids[1]]
    assert len(await run(engine, key, "billing invoices", top_k=4,
                         search_type="vector_search")) == 4


async def test_disabled_chunks_never_match(engine: KnowledgeEngine) -> None:
    key, source, ids = await load(engine)
    await engine.update_chunk(key, source, ids[0], {"enabled": False})
    for kind in ("vector_search", "keyword_search", "hybrid_search"):
        assert ids[0] not in await run(engine, key, "reset password", search_type=kind,
                                       top_k=10)


async def test_edited_text_is_searched_by_its_new_words(engine: KnowledgeEngine) -> None:
    key, source, ids = await load(engine)
    await engine.update_chunk(key, source, ids[5], {"text": "Zebras graze on savannah grass"})
    for kind in ("keyword_search", "vector_search"):
        assert (await run(engine, key, "zebras savannah", search_type=kind))[0] == ids[5]


async def test_the_first_vector_fixes_the_dimension(engine: KnowledgeEngine) -> None:
    key, source, _ = await load(engine)  # 64 dimensions from the fake model
    with pytest.raises(InvalidRequest) as info:
        await engine.add_chunks(key, source, [NewChunk("x", embedding=[0.1, 0.2, 0.3])])
    assert info.value.code == "dimension_mismatch"
    assert "64" in info.value.message and "3" in info.value.message


async def test_rerank_reorders_and_applies_its_threshold(engine: KnowledgeEngine) -> None:
    key, _, ids = await load(engine)
    kb = await engine.kb_row(key)
    plan = plan_search(kb, {"search_type": "vector_search", "top_k": 6,
                            "rerank_config": {"model": "fake/rerank", "threshold": 0.5,
                                              "top_k": 2}}, "billing invoices monthly")
    hits = (await Searcher(engine).search(kb, plan)).hits
    assert [h.id for h in hits] == [ids[1]]  # the only one with at least half the words
    assert hits[0].rerank_score == 1.0
    reranker = engine.parts.reranker
    assert reranker.calls[0][0] == "fake/rerank" and reranker.calls[0][3] == 2


async def test_agentic_rag_rewrites_then_drops_what_the_model_grades_irrelevant(
    engine: KnowledgeEngine,
) -> None:
    key, _, ids = await load(engine)
    engine.parts.runner = ScriptedRunner(['Query: "refunds annual plans"',
                                          'Sure! ```json\n{"relevant": [1]}\n```'])
    kb = await engine.kb_row(key)
    plan = plan_search(kb, {"search_type": "keyword_search", "top_k": 3,
                            "agentic_rag_config": {"model": "openai/gpt-4o-mini"}},
                       "can I get my money back?")
    outcome = await Searcher(engine).search(kb, plan)
    assert outcome.query == "refunds annual plans"
    assert [h.id for h in outcome.hits] == [ids[2]]
    grading = engine.parts.runner.calls[1]
    assert grading.model == "openai/gpt-4o-mini"
    assert "[1] Refunds for annual plans" in grading.body["messages"][1]["content"]


async def test_unreadable_grades_keep_every_chunk(engine: KnowledgeEngine) -> None:
    key, _, _ = await load(engine)
    engine.parts.runner = ScriptedRunner(["billing refunds", "I think they are all fine maybe"])
    kb = await engine.kb_row(key)
    plan = plan_search(kb, {"search_type": "keyword_search", "top_k": 2,
                            "agentic_rag_config": {"model": "m/x"}}, "billing")
    outcome = await Searcher(engine).search(kb, plan)
    assert len(outcome.hits) == 2
    assert outcome.notes == ["the relevance grades could not be read; every chunk was kept"]


@pytest.mark.parametrize(("text", "count", "expected"), [
    ('{"relevant": [1, 3]}', 3, {1, 3}),
    ('```json\n{"relevant": ["2"]}\n```', 3, {2}),
    ("Relevant passages: [2, 9]", 3, {2}),
    ("None of them.", 3, set()),
    ('{"relevant": []}', 3, set()),
    ("all of them look good", 3, None),
    ('{"relevant": "first"}', 3, None),
])
def test_grades_are_parsed_forgivingly(text: str, count: int,
                                       expected: set[int] | None) -> None:
    assert parse_grades(text, count) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("refund policy", "refund policy"),
    ('Search query: "refund policy"\nBecause…', "refund policy"),
    ("```\nrefund policy\n```", "refund policy"),
    ("  \n", None),
])
def test_rewrites_are_parsed_forgivingly(text: str, expected: str | None) -> None:
    assert parse_rewrite(text) == expected


def test_scores_are_on_a_0_to_1_scale() -> None:
    assert cosine_score(0.0) == 1.0 and cosine_score(1.0) == 0.0 and cosine_score(1.7) == 0.0
    assert rank_score(0.0) == 0.0 and rank_score(1.0) == 0.5 and rank_score(-3) == 0.0
    fused = dict(fuse([["a", "b"], ["a", "c"]]))
    assert fused["a"] == 1.0  # first in both lists
    assert 0.49 < fused["b"] < 0.5 and fused["b"] == fused["c"]
