"""Reading traces back: every filter, pagination, usage reports and thread totals."""

from __future__ import annotations

import pytest

from tests.store import sample
from waystation.errors import NotFound
from waystation.observe.pricing import PriceTable
from waystation.observe.trace import Trace
from waystation.store import Store
from waystation.store.pagination import PageRequest
from waystation.store.trace_rows import RecordedTrace
from waystation.store.traces import StatusFilter, TraceFilter
from waystation.store.usage import UsageQuery, usage_report

PRICES = PriceTable.load()


async def write(store: Store, *traces: Trace) -> list[Trace]:
    await store.sink.write([
        RecordedTrace(t, PRICES.cost(t.model or t.requested_model, t.usage)) for t in traces])
    return list(traces)


async def ids(store: Store, f: TraceFilter, limit: int = 50) -> list[str]:
    found, _ = await store.traces.list(f, PageRequest(limit=limit))
    return [t["_id"] for t in found]


async def test_each_filter_narrows_the_list(store: Store) -> None:
    a, b, c, d = await write(
        store,
        sample.trace(thread={"id": "t1"}, contact_external_id="u1", name="search",
                     metadata={"team": "search", "env": "prod"}),
        sample.trace(model="anthropic/claude-haiku-4-5", status=429, key_id="key_2"),
        sample.trace(thread={"id": "t1"}, metadata={"team": "ads"}, status=502),
        sample.trace(at=sample.BASE + 7200, contact_external_id="u2"),
    )
    assert await ids(store, TraceFilter()) == [d.id, c.id, b.id, a.id]
    assert await ids(store, TraceFilter(thread_id="t1")) == [c.id, a.id]
    assert await ids(store, TraceFilter(contact_ids=("u1",))) == [a.id]
    assert await ids(store, TraceFilter(model="anthropic/claude-haiku-4-5")) == [b.id]
    assert await ids(store, TraceFilter(name="search")) == [a.id]
    assert await ids(store, TraceFilter(key_id="key_2")) == [b.id]
    assert await ids(store, TraceFilter(metadata={"team": "search"})) == [a.id]
    assert await ids(store, TraceFilter(metadata={"team": "search", "env": "dev"})) == []
    assert await ids(store, TraceFilter(status=StatusFilter(exact=429))) == [b.id]
    assert await ids(store, TraceFilter(status=StatusFilter(low=500, high=599))) == [c.id]
    assert await ids(store, TraceFilter(status=StatusFilter(failed=True))) == [c.id, b.id]
    assert await ids(store, TraceFilter(status=StatusFilter(failed=False))) == [d.id, a.id]
    assert await ids(store, TraceFilter(since=sample.BASE + 3600)) == [d.id]
    assert await ids(store, TraceFilter(until=sample.BASE + 3600)) == [c.id, b.id, a.id]


async def test_pages_of_traces_are_newest_first_and_complete(store: Store) -> None:
    made = await write(store, *[sample.trace() for _ in range(5)])
    newest_first = [t.id for t in reversed(made)]
    seen: list[str] = []
    cursor = None
    while True:
        page, more = await store.traces.list(TraceFilter(), PageRequest(2, cursor))
        seen += [t["_id"] for t in page]
        if not more:
            break
        cursor = page[-1]["_id"]
    assert seen == newest_first


async def test_one_trace_carries_everything_the_list_leaves_out(store: Store) -> None:
    (t,) = await write(store, sample.trace(metadata={"team": "x"}, ttft_ms=42.0, stream=True))
    listed, _ = await store.traces.list(TraceFilter(), PageRequest())
    assert "request" not in listed[0]
    full = await store.traces.get(t.id)
    assert full["request"]["messages"][0]["content"] == "hi"
    assert full["response"]["choices"][0]["message"]["content"] == "hello"
    assert full["stream"] is True and full["ttft_ms"] == 42.0
    assert full["attempts"] == [{"model": "openai/gpt-4o-mini", "status": 200,
                                 "duration_ms": 110.0, "error": None, "code": None}]
    assert full["cost"] == pytest.approx((100 * 0.15 + 20 * 0.6) / 1e6)
    assert full["cost_details"]["currency"] == "USD"
    with_bodies, _ = await store.traces.list(TraceFilter(), PageRequest(), include_bodies=True)
    assert with_bodies[0]["response"] == full["response"]
    with pytest.raises(NotFound):
        await store.traces.get("01NOPE0000000000000000000")


async def test_usage_groups_by_model_day_key_and_contact(store: Store) -> None:
    day = 86400.0
    start = (sample.BASE // day) * day + 3600  # 01:00 UTC of the samples' day
    await write(
        store,
        sample.trace(at=start, contact_external_id="u1", prompt=1000, completion=0),
        sample.trace(at=start + 60, contact_external_id="u1", prompt=0, completion=1000),
        sample.trace(at=start + day, model="acme/unknown-model", key_id="key_2"),
        sample.trace(at=start + day + 60, status=500),
    )
    rows, more = await usage_report(store.db, UsageQuery(group_by=["model"]))
    by_model = {r["model"]: r for r in rows}
    gpt = by_model["openai/gpt-4o-mini"]
    assert (gpt["requests"], gpt["errors"], gpt["total_tokens"]) == (3, 1, 2000)
    assert gpt["cost"] == pytest.approx((1000 * 0.15 + 1000 * 0.6) / 1e6)
    unknown = by_model["acme/unknown-model"]
    assert unknown["cost"] is None and unknown["unpriced_requests"] == 1
    assert not more
    rows, _ = await usage_report(store.db, UsageQuery(group_by=["day"]))
    assert [r["requests"] for r in rows] == [2, 2]
    assert rows[0]["day"] < rows[1]["day"]
    rows, _ = await usage_report(store.db, UsageQuery(group_by=["key", "contact"]))
    assert {(r["key_id"], r["contact_id"], r["requests"]) for r in rows} == {
        ("key_1", "u1", 2), ("key_1", None, 1), ("key_2", None, 1)}
    rows, _ = await usage_report(store.db, UsageQuery(group_by=["model"], since=start + day))
    assert sum(r["requests"] for r in rows) == 2
    rows, more = await usage_report(store.db, UsageQuery(group_by=["day", "model"], limit=2))
    assert len(rows) == 2 and more


async def test_threads_list_with_totals_and_pages(store: Store) -> None:
    await write(store, sample.trace(thread={"id": "old"}),
                sample.trace(thread={"id": "new"}, prompt=10, completion=5),
                sample.trace(thread={"id": "new"}, status=503),
                sample.trace(thread={"id": "newest"}))
    first, more = await store.threads.list(PageRequest(limit=2))
    assert [t["_id"] for t in first] == ["newest", "new"] and more
    rest, more = await store.threads.list(PageRequest(limit=2, starting_after="new"))
    assert [t["_id"] for t in rest] == ["old"] and not more
    new = first[1]
    assert (new["total_requests"], new["total_errors"], new["total_tokens"]) == (2, 1, 15)
    assert new["total_cost"] == pytest.approx((10 * 0.15 + 5 * 0.6) / 1e6)
    detail = await store.threads.get("new", PageRequest(limit=1))
    assert len(detail["requests"]) == 1 and detail["requests_has_more"]
    with pytest.raises(NotFound):
        await store.threads.get("nope", PageRequest())
