"""How a batch's contacts and threads change what is stored: one pure merge for both engines.

The writer reads the stored rows the batch names (`CONTACT_READ`, `THREAD_COLUMNS` order), and
`merge` says what to write: new rows, and whole new values for the rows that changed. The
engines differ in how they upsert and in their JSON functions, so the merge is done here, in
Python, once; each engine only runs the statements. A race with another process creating the
same contact ends in a unique-key error, which the recorder treats like any refused batch: it
tries again, and then the row exists and is merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from waystation.store.ids import new_ulid
from waystation.store.schema import contact_tags, contacts, threads
from waystation.store.trace_rows import (
    ContactSeen,
    Row,
    ThreadSeen,
    checked_columns,
    decode,
    encode,
    union_tags,
)

_FIELDS = ("display_name", "email", "avatar_url")
# New contacts and threads are inserted with these columns, in this order.
CONTACT_COLUMNS = checked_columns(contacts, (
    "id", "external_id", *_FIELDS, "tags", "metadata", "created", "updated"))
CONTACT_TAG_COLUMNS = checked_columns(contact_tags, ("contact_id", "tag"))
THREAD_COLUMNS = checked_columns(threads, ("id", "tags", "first_seen", "last_seen"))
# What the merge reads of a stored contact (threads are read whole, THREAD_COLUMNS).
CONTACT_READ = ("id", "external_id", *_FIELDS, "tags", "metadata", "updated")
# A changed row is written whole: these columns, then its id.
CONTACT_SET = (*_FIELDS, "tags", "metadata", "updated")
THREAD_SET = ("tags", "first_seen", "last_seen")


@dataclass(slots=True)
class Upserts:
    """The statements' rows, in the order they must run (tags after their contacts)."""

    new_contacts: list[Row] = field(default_factory=list)  # CONTACT_COLUMNS
    changed_contacts: list[Row] = field(default_factory=list)  # CONTACT_SET + (id,)
    retagged: list[tuple[str]] = field(default_factory=list)  # contacts whose tag rows go
    tags: list[tuple[str, str]] = field(default_factory=list)  # CONTACT_TAG_COLUMNS
    new_threads: list[Row] = field(default_factory=list)  # THREAD_COLUMNS
    changed_threads: list[Row] = field(default_factory=list)  # THREAD_SET + (id,)

    def __bool__(self) -> bool:
        return bool(self.new_contacts or self.changed_contacts or self.retagged or self.tags
                    or self.new_threads or self.changed_threads)


def merge(
    seen_contacts: Iterable[ContactSeen],
    stored_contacts: Iterable[Sequence[Any]],
    seen_threads: Iterable[ThreadSeen],
    stored_threads: Iterable[Sequence[Any]],
) -> Upserts:
    """What to write so the stored contacts and threads include what the batch saw."""
    out = Upserts()
    by_external_id = {row[1]: row for row in stored_contacts}
    for entry in seen_contacts:
        row = by_external_id.get(entry.external_id)
        if row is None:
            _new_contact(out, entry)
        else:
            _merge_contact(out, entry, row)
    by_id = {row[0]: row for row in stored_threads}
    for thread in seen_threads:
        found = by_id.get(thread.id)
        if found is None:
            out.new_threads.append((thread.id, encode(thread.tags), thread.first, thread.last))
        else:
            _merge_thread(out, thread, found)
    return out


def _new_contact(out: Upserts, entry: ContactSeen) -> None:
    contact_id = new_ulid(entry.first)
    tags = entry.tags or []
    out.new_contacts.append((
        contact_id, entry.external_id, *(entry.fields.get(f) for f in _FIELDS), encode(tags),
        encode(entry.metadata or {}), entry.first, entry.last))
    out.tags.extend((contact_id, tag) for tag in tags)


def _merge_contact(out: Upserts, entry: ContactSeen, row: Sequence[Any]) -> None:
    """Fields the batch sent replace stored ones; tags are replaced whole; metadata merged."""
    contact_id, _, *stored_fields, stored_tags, stored_metadata, updated = row
    fields = [entry.fields.get(name, stored)
              for name, stored in zip(_FIELDS, stored_fields, strict=True)]
    changed = fields != stored_fields
    tags = stored_tags
    if entry.tags is not None and entry.tags != (decode(stored_tags) or []):
        tags, changed = encode(entry.tags), True
        out.retagged.append((contact_id,))
        out.tags.extend((contact_id, tag) for tag in entry.tags)
    metadata = stored_metadata
    if entry.metadata:
        before = decode(stored_metadata)
        merged = {**(before or {}), **entry.metadata}
        if merged != before:
            metadata, changed = encode(merged), True
    if changed:
        out.changed_contacts.append(
            (*fields, tags, metadata, max(updated, entry.last), contact_id))


def _merge_thread(out: Upserts, entry: ThreadSeen, row: Sequence[Any]) -> None:
    """Tags are the union of all seen; first and last seen widen. Unchanged rows are kept."""
    thread_id, stored_tags, first, last = row
    before = decode(stored_tags) or []
    tags = union_tags(before, entry.tags)
    first_seen, last_seen = min(first, entry.first), max(last, entry.last)
    if stored_tags is None or tags != before or first_seen != first or last_seen != last:
        out.changed_threads.append((encode(tags), first_seen, last_seen, thread_id))
