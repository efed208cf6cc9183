"""Writing traces: contacts upserted from request bodies, threads kept, ids unique, secrets out."""

from __future__ import annotations

from sqlalchemy import select

from tests.store import sample
from waystation.store import Store
from waystation.store.contacts import ContactQuery
from waystation.store.database import Database
from waystation.store.pagination import PageRequest
from waystation.store.schema import traces
from waystation.store.trace_rows import REDACTED, RecordedTrace
from waystation.store.trace_writes import TraceSink
from waystation.store.traces import TraceFilter


async def write(store: Store, *traces: object) -> None:
    await store.sink.write([RecordedTrace(t) for t in traces])  # type: ignore[arg-type]


async def test_a_contact_in_the_body_is_created_then_merged(store: Store) -> None:
    await write(store, sample.trace(contact={
        "id": "u1", "display_name": "Ada", "email": "ada@x", "logo_url": "https://l/a.png",
        "tags": ["beta"], "metadata": [{"plan": "pro"}, {"seats": 3}]}))
    made = await store.contacts.get("u1")
    assert (made["display_name"], made["email"], made["avatar_url"]) == (
        "Ada", "ada@x", "https://l/a.png")
    assert made["tags"] == ["beta"] and made["metadata"] == {"plan": "pro", "seats": 3}
    await write(store, sample.trace(contact={"id": "u1", "email": "ada@new", "tags": ["vip"],
                                             "metadata": {"plan": "team"}}))
    merged = await store.contacts.get("u1")
    assert merged["_id"] == made["_id"] and merged["display_name"] == "Ada"
    assert merged["email"] == "ada@new" and merged["tags"] == ["vip"]
    assert merged["metadata"] == {"plan": "team", "seats": 3}
    assert merged["updated"] > made["updated"]
    vip, _ = await store.contacts.list(ContactQuery(tags=["vip"]), PageRequest())
    assert [c["external_id"] for c in vip] == ["u1"]


async def test_the_identity_header_alone_labels_but_creates_no_contact(store: Store) -> None:
    await write(store, sample.trace(contact_external_id="header-user"))
    found, _ = await store.contacts.list(ContactQuery(), PageRequest())
    assert found == []
    traces, _ = await store.traces.list(TraceFilter(contact_ids=("header-user",)), PageRequest())
    assert len(traces) == 1 and traces[0]["contact_id"] == "header-user"


async def test_one_batch_with_the_same_contact_twice_makes_one_contact(store: Store) -> None:
    await write(store, sample.trace(contact={"id": "u", "display_name": "First"}),
                sample.trace(contact={"id": "u", "display_name": "Second"}))
    found, _ = await store.contacts.list(ContactQuery(), PageRequest())
    assert [c["display_name"] for c in found] == ["Second"]


async def test_threads_collect_tags_and_first_and_last_seen(store: Store) -> None:
    first = sample.trace(thread={"id": "t1", "tags": ["support"]})
    await write(store, first)
    last = sample.trace(thread={"id": "t1", "tags": ["support", "escalated"]})
    await write(store, last)
    thread = await store.threads.get("t1", PageRequest(limit=10))
    assert thread["tags"] == ["support", "escalated"]
    assert thread["first_seen"] < thread["last_seen"]
    assert [r["_id"] for r in thread["requests"]] == [first.id, last.id]


async def test_a_reused_request_id_still_gets_its_own_trace(store: Store) -> None:
    one = sample.trace()
    two = sample.trace(id=one.id)
    three = sample.trace(id="caller-chosen-request-id")
    await write(store, one)
    await write(store, two, three)
    found, _ = await store.traces.list(TraceFilter(), PageRequest(limit=10))
    assert len({t["_id"] for t in found}) == 3
    assert (await store.traces.get(one.id))["request_id"] == one.id
    assert (await store.traces.get("caller-chosen-request-id"))["_id"] != \
        "caller-chosen-request-id"


async def test_credentials_are_scrubbed_from_stored_bodies(store: Store) -> None:
    t = sample.trace(request={"model": "m", "messages": [], "headers": {
        "Authorization": "Bearer sk-live", "X-Api-Key": "k-1"}, "extra": {"api_key": "k-2"}})
    await write(store, t)
    stored = (await store.traces.get(t.id))["request"]
    assert stored["headers"] == {"Authorization": REDACTED, "X-Api-Key": REDACTED}
    assert stored["extra"] == {"api_key": REDACTED}


async def test_bodies_are_not_kept_when_logging_them_is_off(database_url: str) -> None:
    db = Database(database_url)
    try:
        from tests.store.conftest import empty

        await empty(db)
        sink = TraceSink(db, log_bodies=False)
        t = sample.trace(metadata={"team": "search"})
        await sink.write([RecordedTrace(t)])
        async with db.transaction() as conn:
            assert (await conn.execute(
                select(traces.c.request, traces.c.response, traces.c.extra))).all() == [
                    (None, None, None)]
        store = Store.open(database_url)
        got = await store.traces.get(t.id)
        assert got["request"] is None and got["response"] is None
        assert got["metadata"] == {"team": "search"} and got["usage"]["total_tokens"] == 120
        await store.db.close()
    finally:
        await db.close()


async def test_odd_values_are_clipped_not_refused(store: Store) -> None:
    t = sample.trace(name="nul\x00name", metadata={"k" * 100: "v" * 1000},
                     request={"content": "a\x00b"}, thread={"id": "x" * 300})
    await write(store, t)
    got = await store.traces.get(t.id)
    assert got["name"] == "nulname" and got["request"] == {"content": "a\x00b"}
    assert list(got["metadata"].values()) == ["v" * 1000]  # the full object is kept as sent
    assert len(got["thread_id"]) == 255
