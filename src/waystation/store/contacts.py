"""Contacts (identities): the end users that requests are attributed to.

A contact is addressed by its `_id` (a ULID given here) or by its `external_id` (the caller's own
user id, sent as `orq.contact.id` / `orq.identity.id`). Traffic upserts contacts through the
trace writer; this module is the management side. All contacts belong to one workspace,
`default`: a self-hosted gateway is one tenant, and API keys are credentials, not owners.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, exists, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from waystation.errors import InvalidRequest, NotFound
from waystation.store.database import Database, reachable
from waystation.store.engine import AsyncConnection
from waystation.store.ids import new_ulid
from waystation.store.pagination import Order, PageRequest, fetch_page
from waystation.store.schema import contact_tags, contacts
from waystation.store.times import iso
from waystation.store.trace_rows import decode, encode
from waystation.store.usage import contact_metrics

WORKSPACE_ID = "default"
_FIELDS = ("display_name", "email", "avatar_url")


@dataclass(frozen=True, slots=True)
class ContactQuery:
    search: str | None = None  # part of the display name or email, any case
    tags: Sequence[str] = field(default_factory=tuple)  # must have all of these
    sort: str = "created"  # created (newest first) | display_name (A→Z) | updated (newest)


def render(row: Row[Any]) -> dict[str, Any]:
    return {
        "_id": row.id,
        "external_id": row.external_id,
        "workspace_id": WORKSPACE_ID,
        "display_name": row.display_name,
        "email": row.email,
        "avatar_url": row.avatar_url,
        "tags": decode(row.tags) or [],
        "metadata": decode(row.metadata) or {},
        "created": iso(row.created),
        "updated": iso(row.updated),
    }


class ContactStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, data: dict[str, Any]) -> dict[str, Any]:
        """A new contact; 409 if one with this `external_id` exists."""
        now = time.time()
        tags = list(dict.fromkeys(data.get("tags") or []))
        values = {
            "id": new_ulid(now), "external_id": data["external_id"],
            "tags": encode(tags), "metadata": encode(data.get("metadata") or {}),
            "created": now, "updated": now, **{k: data.get(k) for k in _FIELDS},
        }
        async with reachable(self.db):
            try:
                async with self.db.transaction(immediate=True) as conn:
                    await conn.execute(contacts.insert().values(**values))
                    await _set_tags(conn, values["id"], tags)
                    return render(await _one(conn, values["id"]))
            except IntegrityError:
                raise _exists(data["external_id"]) from None

    async def get(self, ref: str) -> dict[str, Any]:
        async with reachable(self.db), self.db.transaction() as conn:
            return render(await _one(conn, ref))

    async def update(self, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Set the given fields (`null` clears one); tags and metadata are replaced whole."""
        async with reachable(self.db), self.db.transaction(immediate=True) as conn:
            row = await _one(conn, ref)
            values: dict[str, Any] = {k: changes[k] for k in _FIELDS if k in changes}
            if "tags" in changes:
                tags = list(dict.fromkeys(changes["tags"] or []))
                values["tags"] = encode(tags)
                await _set_tags(conn, row.id, tags)
            if "metadata" in changes:
                values["metadata"] = encode(changes["metadata"] or {})
            values["updated"] = time.time()
            await conn.execute(update(contacts).where(contacts.c.id == row.id).values(**values))
            return render(await _one(conn, row.id))

    async def delete(self, ref: str) -> None:
        async with reachable(self.db), self.db.transaction(immediate=True) as conn:
            row = await _one(conn, ref)
            await conn.execute(delete(contact_tags).where(contact_tags.c.contact_id == row.id))
            await conn.execute(delete(contacts).where(contacts.c.id == row.id))

    async def list(
        self,
        query: ContactQuery,
        page: PageRequest,
        metrics_window: tuple[float, float] | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of contacts, each with usage `metrics` over the window when one is given."""
        async with reachable(self.db), self.db.transaction() as conn:
            rows, has_more = await fetch_page(conn, _filtered(query), _order(query.sort), page)
            items = [render(r) for r in rows]
            if metrics_window is not None:
                found = await contact_metrics(conn, [i["external_id"] for i in items],
                                              *metrics_window)
                for item in items:
                    item["metrics"] = found.get(item["external_id"], _no_metrics())
        return items, has_more

    async def resolve_external_id(self, ref: str) -> str:
        """The external id a trace filter should match, for a contact `_id` or external id."""
        async with reachable(self.db), self.db.transaction() as conn:
            row = (await conn.execute(select(contacts.c.external_id).where(
                contacts.c.id == ref))).first()
        return row[0] if row is not None else ref


def _no_metrics() -> dict[str, float]:
    return {"total_cost": 0.0, "total_tokens": 0, "total_requests": 0, "error_rate": 0.0}


def _filtered(query: ContactQuery) -> Select[Any]:
    stmt = select(contacts)
    if query.search:
        needle = query.search.lower()
        stmt = stmt.where(or_(
            func.lower(contacts.c.display_name).contains(needle, autoescape=True),
            func.lower(contacts.c.email).contains(needle, autoescape=True),
        ))
    for tag in query.tags:
        stmt = stmt.where(exists().where(
            (contact_tags.c.contact_id == contacts.c.id) & (contact_tags.c.tag == tag)))
    return stmt


def _order(sort: str) -> Order:
    if sort == "display_name":
        return Order(contacts.c.id, func.coalesce(contacts.c.display_name, ""), descending=False)
    if sort == "updated":
        return Order(contacts.c.id, contacts.c.updated)
    return Order(contacts.c.id)


async def _one(conn: AsyncConnection, ref: str) -> Row[Any]:
    """By `_id` first, then by `external_id`."""
    for column in (contacts.c.id, contacts.c.external_id):
        row = (await conn.execute(select(contacts).where(column == ref))).first()
        if row is not None:
            return row
    raise NotFound(f"No contact with id or external_id {ref!r}.", code="contact_not_found")


async def _set_tags(conn: AsyncConnection, contact_id: str, tags: list[str]) -> None:
    await conn.execute(delete(contact_tags).where(contact_tags.c.contact_id == contact_id))
    if tags:
        await conn.execute(contact_tags.insert(),
                           [{"contact_id": contact_id, "tag": t} for t in dict.fromkeys(tags)])


def _exists(external_id: str) -> InvalidRequest:
    return InvalidRequest(f"A contact with external_id {external_id!r} already exists.",
                          param="external_id", code="contact_exists", status=409)
