"""`/v2/contacts` (orq SDK 4.1) and `/v2/identities` (SDK 4.4 and later): one store, two shapes.

The two generations differ only at the edge: identities wrap the entity as `{"identity": …}`,
answer a delete with `200 {}` instead of `204`, and allow longer pages. Creating either with an
`external_id` that exists is a 409 (`contact_exists`), as orq documents ("the operation will
fail"); traffic upserts contacts instead (see the trace writer). `/v2/contacts` lists carry
`metrics` unless `include_metrics=false`, since SDK 4.1 requires them on every item;
`/v2/identities` lists carry them only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waystation.api.management import (
    ContactCreate,
    ContactList,
    ContactRecord,
    ContactUpdate,
    IdentityAnswer,
)
from waystation.errors import InvalidRequest
from waystation.server.http import Request
from waystation.server.routes import query
from waystation.server.routing import Route
from waystation.store.contacts import ContactQuery, ContactStore

if TYPE_CHECKING:
    from waystation.server.app import Gateway

_SORTS = {
    "IDENTITY_SORT_FIELD_DISPLAY_NAME": "display_name",
    "IDENTITY_SORT_FIELD_UPDATED": "updated",
    "display_name": "display_name",
    "updated": "updated",
    "created": "created",
}
LIST_QUERY = ("limit", "starting_after", "ending_before", "search", "filter_by",
              "filter_by.tags", "filter_by_tags", "include_metrics", "period", "from", "to",
              "sort_by")


@dataclass(frozen=True, slots=True)
class ContactRoutes:
    store: ContactStore
    wrap: bool  # identities: {"identity": …}
    max_limit: int
    metrics_by_default: bool

    def _out(self, contact: dict[str, Any]) -> dict[str, Any]:
        return {"identity": contact} if self.wrap else contact

    async def list(self, req: Request) -> None:
        search = req.query.get("search") or None
        if search is not None and len(search.strip()) < 2:
            raise InvalidRequest("search needs at least 2 characters.", param="search")
        sort = _SORTS.get(req.query.get("sort_by") or "created")
        if sort is None:
            raise InvalidRequest(f"sort_by must be one of {', '.join(_SORTS)}.",
                                 param="sort_by")
        window = None
        if query.boolean(req, "include_metrics", self.metrics_by_default):
            since, until = query.window(req, default_days=30)
            window = (since or 0.0, until or 4e9)
        items, has_more = await self.store.list(
            ContactQuery(search=search.strip() if search else None, tags=query.tags(req),
                         sort=sort),
            query.page(req, high=self.max_limit), window)
        await req.send_json(200, {"object": "list", "data": items, "has_more": has_more})

    async def create(self, req: Request) -> None:
        data = await query.body(req, ContactCreate)
        await req.send_json(201, self._out(await self.store.create(data)))

    async def get(self, req: Request) -> None:
        await req.send_json(200, self._out(await self.store.get(req.path_params["id"])))

    async def update(self, req: Request) -> None:
        changes = await query.body(req, ContactUpdate)
        contact = await self.store.update(req.path_params["id"], changes)
        await req.send_json(200, self._out(contact))

    async def delete(self, req: Request) -> None:
        await self.store.delete(req.path_params["id"])
        if self.wrap:
            await req.send_json(200, {})
        else:
            await req.send_bytes(204, b"", [])


def register(app: Gateway) -> None:
    for base, name, wrap, high in (("/v2/contacts", "contact", False, 50),
                                   ("/v2/identities", "identity", True, 200)):
        r = ContactRoutes(app.store.contacts, wrap, high, metrics_by_default=not wrap)
        one = IdentityAnswer if wrap else ContactRecord
        tag = "identities" if wrap else "contacts"
        item = f"{base}/{{id}}"
        for route in (
            Route("GET", base, r.list, summary=f"List {tag} (cursor pagination, search, tags, "
                  "usage metrics)", answer=ContactList, tag=tag, query=LIST_QUERY),
            Route("POST", base, r.create, summary=f"Create a {name} (409 if the external_id "
                  "exists)", body=ContactCreate, answer=one, answer_status=201, tag=tag),
            Route("GET", item, r.get, summary=f"Get a {name} by id or external_id",
                  answer=one, tag=tag),
            Route("PATCH", item, r.update, summary=f"Update a {name} by id or external_id",
                  body=ContactUpdate, answer=one, tag=tag),
            Route("DELETE", item, r.delete, summary=f"Delete a {name} by id or external_id",
                  answer_status=200 if wrap else 204, tag=tag),
        ):
            app.router.add(route)
