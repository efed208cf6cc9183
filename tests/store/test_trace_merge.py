"""The contact and thread merge both engines share: what a batch changes, and what it leaves."""

from __future__ import annotations

from waystation.store.trace_merge import merge
from waystation.store.trace_rows import ContactSeen, ThreadSeen, encode


def stored_contact(**changes: object) -> tuple[object, ...]:
    row = {"id": "C1", "external_id": "u1", "display_name": "Ada", "email": "ada@x",
           "avatar_url": None, "tags": encode(["beta"]), "metadata": encode({"plan": "pro"}),
           "updated": 10.0}
    row.update(changes)
    return tuple(row.values())


def test_a_new_contact_is_inserted_with_its_tags() -> None:
    seen = ContactSeen("u9", 1.0, 2.0, {"email": "n@x"}, ["a", "b"], {"k": 1})
    out = merge([seen], [], [], [])
    [(contact_id, external_id, name, email, avatar, tags, meta, created, updated)] = \
        out.new_contacts
    assert (external_id, name, email, avatar) == ("u9", None, "n@x", None)
    assert (tags, meta, created, updated) == ('["a","b"]', '{"k":1}', 1.0, 2.0)
    assert out.tags == [(contact_id, "a"), (contact_id, "b")] and not out.retagged


def test_a_contact_the_batch_says_nothing_new_about_is_not_written() -> None:
    seen = ContactSeen("u1", 11.0, 12.0, {"display_name": "Ada"}, ["beta"], {"plan": "pro"})
    assert not merge([seen], [stored_contact()], [], [])


def test_a_changed_contact_is_written_whole_and_retagged() -> None:
    seen = ContactSeen("u1", 11.0, 12.0, {"email": "ada@new"}, ["vip"], {"seats": 2})
    out = merge([seen], [stored_contact()], [], [])
    assert out.changed_contacts == [
        ("Ada", "ada@new", None, '["vip"]', '{"plan":"pro","seats":2}', 12.0, "C1")]
    assert out.retagged == [("C1",)] and out.tags == [("C1", "vip")]
    assert not out.new_contacts


def test_metadata_alone_changes_a_contact_but_keeps_its_tags_text() -> None:
    seen = ContactSeen("u1", 1.0, 2.0, metadata={"plan": "team"})
    [row] = merge([seen], [stored_contact()], [], []).changed_contacts
    assert row == ("Ada", "ada@x", None, '["beta"]', '{"plan":"team"}', 10.0, "C1")


def test_threads_widen_and_collect_tags_and_unchanged_ones_are_left() -> None:
    stored = [("t1", encode(["a"]), 5.0, 6.0), ("t2", encode(["b"]), 5.0, 6.0)]
    out = merge([], [], [ThreadSeen("t1", 4.0, 7.0, ["c"]), ThreadSeen("t2", 5.5, 5.5, ["b"]),
                         ThreadSeen("t3", 1.0, 1.0, [])], stored)
    assert out.changed_threads == [('["a","c"]', 4.0, 7.0, "t1")]
    assert out.new_threads == [("t3", "[]", 1.0, 1.0)]
