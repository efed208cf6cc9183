"""Write one batch of traces in one transaction: traces, bodies, metadata, contacts, threads.

Contacts and threads are upserted by reading the existing rows of the batch first and merging
in Python. That is one code path for both engines (their upsert syntaxes and JSON functions
differ); a race with another process writing the same new contact ends in a unique-key error,
which the recorder treats like any failed batch: it tries again, and the second time the row
exists and is merged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from waystation.store.database import Database
from waystation.store.ids import new_ulid
from waystation.store.schema import contact_tags, contacts, threads, trace_bodies, trace_metadata
from waystation.store.schema import traces as traces_table
from waystation.store.trace_rows import (
    ContactSeen,
    RecordedTrace,
    ThreadSeen,
    TraceRows,
    build_rows,
    decode,
    encode,
    union_tags,
)


class TraceSink:
    """Where the recorder's batches go: the database."""

    def __init__(self, db: Database, *, log_bodies: bool = True) -> None:
        self.db = db
        self.log_bodies = log_bodies

    async def write(self, items: Sequence[RecordedTrace]) -> None:
        if not items:
            return
        await self.db.ensure_schema()
        rows = await asyncio.to_thread(build_rows, items, log_bodies=self.log_bodies)
        async with self.db.transaction(immediate=True) as conn:
            await _rename_taken_ids(conn, rows)
            await _upsert_contacts(conn, list(rows.contacts.values()))
            await _upsert_threads(conn, list(rows.threads.values()))
            await conn.execute(traces_table.insert(), rows.traces)
            if rows.bodies:
                await conn.execute(trace_bodies.insert(), rows.bodies)
            if rows.metadata:
                await conn.execute(trace_metadata.insert(), rows.metadata)


async def _rename_taken_ids(conn: AsyncConnection, rows: TraceRows) -> None:
    """A caller may send the same X-Request-ID twice; the second trace gets an id of its own."""
    ids = [row["id"] for row in rows.traces]
    taken = set((await conn.execute(
        select(traces_table.c.id).where(traces_table.c.id.in_(ids)))).scalars())
    for row in list(rows.traces):
        if row["id"] in taken:
            rows.rename(row["id"], new_ulid(row["created"]))


async def _upsert_contacts(conn: AsyncConnection, seen: list[ContactSeen]) -> None:
    if not seen:
        return
    found = {
        row.external_id: row
        for row in (await conn.execute(select(contacts).where(
            contacts.c.external_id.in_([s.external_id for s in seen])))).all()
    }
    for entry in seen:
        row = found.get(entry.external_id)
        if row is None:
            contact_id = new_ulid(entry.first)
            await conn.execute(contacts.insert().values(
                id=contact_id, external_id=entry.external_id, tags=encode(entry.tags or []),
                metadata=encode(entry.metadata or {}), created=entry.first, updated=entry.last,
                **entry.fields))
            await _set_tags(conn, contact_id, entry.tags or [])
            continue
        changes: dict[str, Any] = {
            k: v for k, v in entry.fields.items() if getattr(row, k) != v}
        if entry.tags is not None and entry.tags != (decode(row.tags) or []):
            changes["tags"] = encode(entry.tags)
            await _set_tags(conn, row.id, entry.tags)
        if entry.metadata:
            merged = {**(decode(row.metadata) or {}), **entry.metadata}
            if merged != decode(row.metadata):
                changes["metadata"] = encode(merged)
        if changes:
            changes["updated"] = max(row.updated, entry.last)
            await conn.execute(update(contacts).where(contacts.c.id == row.id).values(**changes))


async def _set_tags(conn: AsyncConnection, contact_id: str, tags: list[str]) -> None:
    await conn.execute(delete(contact_tags).where(contact_tags.c.contact_id == contact_id))
    if tags:
        await conn.execute(contact_tags.insert(),
                           [{"contact_id": contact_id, "tag": t} for t in tags])


async def _upsert_threads(conn: AsyncConnection, seen: list[ThreadSeen]) -> None:
    if not seen:
        return
    found = {
        row.id: row
        for row in (await conn.execute(select(threads).where(
            threads.c.id.in_([s.id for s in seen])))).all()
    }
    for entry in seen:
        row = found.get(entry.id)
        if row is None:
            await conn.execute(threads.insert().values(
                id=entry.id, tags=encode(entry.tags), first_seen=entry.first,
                last_seen=entry.last))
            continue
        tags = union_tags(decode(row.tags) or [], entry.tags)
        await conn.execute(update(threads).where(threads.c.id == row.id).values(
            tags=encode(tags), first_seen=min(row.first_seen, entry.first),
            last_seen=max(row.last_seen, entry.last)))
