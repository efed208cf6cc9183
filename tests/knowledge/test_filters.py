"""`filter_by`: what parses, what is refused with a message naming the spot, and that both
storage backends select exactly the chunks the reference semantics (`matches`) selects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.knowledge.corpus import CORPUS, load
from waystation.errors import InvalidRequest
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.filters import Condition, Group, check_metadata, matches, parse_filter
from waystation.knowledge.search import Searcher, plan_search


def test_bare_and_dollar_spellings_parse_to_the_same_tree() -> None:
    bare = parse_filter({"and": [{"lang": {"eq": "en"}}, {"year": {"gte": 2021}}]})
    dollar = parse_filter({"$and": [{"lang": {"$eq": "en"}}, {"year": {"$gte": 2021}}]})
    assert bare == dollar == Group("and", (Condition("lang", "eq", "en"),
                                           Condition("year", "gte", 2021)))


def test_several_keys_and_operators_are_anded() -> None:
    tree = parse_filter({"year": {"gte": 2021, "lt": 2024}, "lang": {"in": ["en", "fr"]}})
    assert tree == Group("and", (Condition("year", "gte", 2021), Condition("year", "lt", 2024),
                                 Condition("lang", "in", ["en", "fr"])))


@pytest.mark.parametrize("empty", [None, {}])
def test_no_filter(empty: Any) -> None:
    assert parse_filter(empty) is None


@pytest.mark.parametrize(("raw", "param", "words"), [
    ({"lang": {"eqq": "en"}}, "filter_by.lang.eqq", "unknown operator"),
    ({"year": {"gt": "2020"}}, "filter_by.year.gt", "takes a number"),
    ({"year": {"gt": True}}, "filter_by.year.gt", "takes a number"),
    ({"lang": {"in": []}}, "filter_by.lang.in", "non-empty list"),
    ({"lang": {"in": "en"}}, "filter_by.lang.in", "non-empty list"),
    ({"lang": {"eq": None}}, "filter_by.lang.eq", "string, number or boolean"),
    ({"lang": {"eq": {"x": 1}}}, "filter_by.lang.eq", "string, number or boolean"),
    ({"lang": {"exists": "yes"}}, "filter_by.lang.exists", "true or false"),
    ({"lang": "en"}, "filter_by.lang", "operator object"),
    ({"and": []}, "filter_by.and", "non-empty list"),
    ({"and": [{"lang": {"eq": "en"}}], "year": {"gt": 1}}, "filter_by", "only key"),
    ({"or": [{"lang": {"eq": "en"}}, {"year": {"bad": 1}}]}, "filter_by.or[1].year.bad",
     "unknown operator"),
    ({"$where": {"eq": 1}}, "filter_by.$where", "unknown operator"),
    ({"bad\"key": {"eq": 1}}, "filter_by.bad\"key", "metadata keys"),
    ([{"lang": {"eq": "en"}}], "filter_by", "non-empty object"),
])
def test_invalid_filters_say_what_is_wrong(raw: Any, param: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_filter(raw)
    assert info.value.param == param
    assert words in info.value.message


def test_reference_semantics_are_type_exact_and_mongo_like() -> None:
    meta = {"lang": "en", "year": 2021, "public": True, "score": 2.5}
    assert matches(parse_filter({"year": {"eq": 2021.0}}), meta)
    assert not matches(parse_filter({"year": {"eq": "2021"}}), meta)
    assert not matches(parse_filter({"public": {"eq": 1}}), meta)
    assert matches(parse_filter({"public": {"eq": True}}), meta)
    assert matches(parse_filter({"missing": {"ne": "x"}}), meta)  # ne matches a missing key
    assert matches(parse_filter({"missing": {"nin": ["x"]}}), meta)
    assert not matches(parse_filter({"missing": {"in": ["x"]}}), meta)
    assert not matches(parse_filter({"lang": {"gt": 1}}), meta)  # strings are not numbers
    assert matches(parse_filter({"missing": {"exists": False}}), meta)


def test_chunk_metadata_holds_only_flat_scalars() -> None:
    assert check_metadata({"a": "x", "b": 1, "c": 1.5, "d": False}) == {
        "a": "x", "b": 1, "c": 1.5, "d": False}
    for bad in ({"a": None}, {"a": [1]}, {"a": {"b": 1}}):
        with pytest.raises(InvalidRequest):
            check_metadata(bad)


FILTERS: list[dict[str, Any]] = [
    {"lang": {"eq": "en"}},
    {"lang": {"$ne": "en"}},
    {"year": {"gt": 2021}},
    {"year": {"gte": 2021, "lte": 2023}},
    {"year": {"lt": 2021.5}},
    {"topic": {"in": ["billing", "routing"]}},
    {"topic": {"nin": ["billing"]}},
    {"public": {"eq": True}},
    {"public": {"ne": True}},
    {"public": {"exists": False}},
    {"public": {"exists": True}},
    {"or": [{"lang": {"eq": "fr"}}, {"year": {"gte": 2025}}]},
    {"and": [{"topic": {"eq": "billing"}}, {"public": {"eq": False}}]},
    {"$or": [{"and": [{"lang": {"eq": "en"}}, {"year": {"lt": 2021}}]},
             {"topic": {"eq": "account"}}]},
    {"year": {"in": [2020, 2024]}},
    {"year": {"eq": "2021"}},
]


@pytest.mark.parametrize("raw", FILTERS, ids=[str(f) for f in FILTERS])
async def test_backends_select_what_the_reference_selects(
    engine: KnowledgeEngine, raw: dict[str, Any],
) -> None:
    key, _, ids = await load(engine)
    expected = {ids[i] for i, (_, meta) in enumerate(CORPUS) if matches(parse_filter(raw), meta)}
    kb = await engine.kb_row(key)
    searcher = Searcher(engine)
    for kind, query in (("vector_search", "password billing gateway refunds fallback"),
                        ("keyword_search", "password mot billing refunds gateway fallback")):
        plan = plan_search(kb, {"search_type": kind, "top_k": 100, "filter_by": raw}, query)
        found = {h.id for h in (await searcher.search(kb, plan)).hits}
        assert found == expected, kind  # every chunk shares a word with both queries
