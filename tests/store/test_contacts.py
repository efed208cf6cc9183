"""Contacts through the management side: create, read by either id, update, delete, list."""

from __future__ import annotations

import pytest

from tests.store import sample
from waystation.errors import InvalidRequest, NotFound
from waystation.observe.pricing import PriceTable
from waystation.store import Store
from waystation.store.contacts import ContactQuery
from waystation.store.pagination import PageRequest
from waystation.store.trace_rows import RecordedTrace

PRICES = PriceTable.load()


async def test_create_then_read_by_id_or_external_id(store: Store) -> None:
    made = await store.contacts.create({
        "external_id": "user-1", "display_name": "Ada", "email": "ada@example.com",
        "avatar_url": "https://a/img.png", "tags": ["vip", "beta", "vip"],
        "metadata": {"plan": "pro"}})
    assert made["_id"] != "user-1" and len(made["_id"]) == 26
    assert made["workspace_id"] == "default"
    assert made["tags"] == ["vip", "beta"]
    assert made["created"].endswith("Z") and made["created"] == made["updated"]
    assert await store.contacts.get(made["_id"]) == made
    assert await store.contacts.get("user-1") == made


async def test_a_second_create_with_the_same_external_id_is_a_409(store: Store) -> None:
    await store.contacts.create({"external_id": "user-1"})
    with pytest.raises(InvalidRequest) as caught:
        await store.contacts.create({"external_id": "user-1", "display_name": "Other"})
    assert caught.value.status == 409 and caught.value.code == "contact_exists"


async def test_update_sets_clears_and_replaces(store: Store) -> None:
    await store.contacts.create({"external_id": "u", "display_name": "A", "email": "a@x",
                                 "tags": ["one"], "metadata": {"a": 1}})
    changed = await store.contacts.update("u", {"email": None, "tags": ["two"],
                                                "metadata": {"b": 2}})
    assert changed["display_name"] == "A" and changed["email"] is None
    assert changed["tags"] == ["two"] and changed["metadata"] == {"b": 2}
    found, _ = await store.contacts.list(ContactQuery(tags=["one"]), PageRequest())
    assert found == []


async def test_delete_then_it_is_gone(store: Store) -> None:
    made = await store.contacts.create({"external_id": "u"})
    await store.contacts.delete(made["_id"])
    with pytest.raises(NotFound):
        await store.contacts.get("u")
    with pytest.raises(NotFound):
        await store.contacts.delete("u")


async def test_pages_forward_and_back_without_gaps_or_repeats(store: Store) -> None:
    ids = [(await store.contacts.create({"external_id": f"u{i}"}))["_id"] for i in range(7)]
    newest_first = list(reversed(ids))
    first, more = await store.contacts.list(ContactQuery(), PageRequest(limit=3))
    assert [c["_id"] for c in first] == newest_first[:3] and more
    second, more = await store.contacts.list(
        ContactQuery(), PageRequest(limit=3, starting_after=first[-1]["_id"]))
    assert [c["_id"] for c in second] == newest_first[3:6] and more
    third, more = await store.contacts.list(
        ContactQuery(), PageRequest(limit=3, starting_after=second[-1]["_id"]))
    assert [c["_id"] for c in third] == newest_first[6:] and not more
    back, more = await store.contacts.list(
        ContactQuery(), PageRequest(limit=3, ending_before=third[0]["_id"]))
    assert [c["_id"] for c in back] == newest_first[3:6] and more


async def test_search_matches_name_or_email_in_any_case(store: Store) -> None:
    await store.contacts.create({"external_id": "1", "display_name": "Grace Hopper"})
    await store.contacts.create({"external_id": "2", "email": "HOPPER@navy.mil"})
    await store.contacts.create({"external_id": "3", "display_name": "Ada", "email": "a@x"})
    await store.contacts.create({"external_id": "4", "display_name": "100%_sure"})
    found, _ = await store.contacts.list(ContactQuery(search="hopper"), PageRequest())
    assert sorted(c["external_id"] for c in found) == ["1", "2"]
    found, _ = await store.contacts.list(ContactQuery(search="0%_"), PageRequest())
    assert [c["external_id"] for c in found] == ["4"]  # wildcards are literal


async def test_tag_filter_needs_every_tag(store: Store) -> None:
    await store.contacts.create({"external_id": "1", "tags": ["vip", "beta"]})
    await store.contacts.create({"external_id": "2", "tags": ["vip"]})
    await store.contacts.create({"external_id": "3"})
    found, _ = await store.contacts.list(ContactQuery(tags=["vip"]), PageRequest())
    assert sorted(c["external_id"] for c in found) == ["1", "2"]
    found, _ = await store.contacts.list(ContactQuery(tags=["vip", "beta"]), PageRequest())
    assert [c["external_id"] for c in found] == ["1"]


async def test_sorted_by_display_name_pages_in_name_order(store: Store) -> None:
    for number, name in enumerate(("Cleo", "Abe", "Bea", "Abe")):
        await store.contacts.create({"external_id": f"u{number}", "display_name": name})
    first, more = await store.contacts.list(ContactQuery(sort="display_name"),
                                            PageRequest(limit=2))
    rest, _ = await store.contacts.list(ContactQuery(sort="display_name"),
                                        PageRequest(limit=2, starting_after=first[-1]["_id"]))
    assert [c["display_name"] for c in first + rest] == ["Abe", "Abe", "Bea", "Cleo"] and more


async def test_metrics_sum_the_contacts_requests_in_the_window(store: Store) -> None:
    await store.contacts.create({"external_id": "u1"})
    await store.contacts.create({"external_id": "u2"})
    traces = [
        sample.trace(contact_external_id="u1", prompt=1000, completion=500),
        sample.trace(contact_external_id="u1", status=502),
        sample.trace(contact_external_id="u1", at=sample.BASE - 40 * 86400),  # too old
    ]
    await store.sink.write([RecordedTrace(t, PRICES.cost(t.model, t.usage)) for t in traces])
    found, _ = await store.contacts.list(ContactQuery(), PageRequest(),
                                         (sample.BASE - 30 * 86400, sample.BASE + 86400))
    by_id = {c["external_id"]: c["metrics"] for c in found}
    assert by_id["u1"]["total_requests"] == 2
    assert by_id["u1"]["total_tokens"] == 1500
    assert by_id["u1"]["error_rate"] == 0.5
    assert by_id["u1"]["total_cost"] == pytest.approx((1000 * 0.15 + 500 * 0.6) / 1e6)
    assert by_id["u2"] == {"total_cost": 0.0, "total_tokens": 0, "total_requests": 0,
                           "error_rate": 0.0}
