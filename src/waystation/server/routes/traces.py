"""`/v2/traces`: every request's trace, filtered and paginated, or one whole.

Filters combine with AND: `thread_id`, `contact_id` (a contact's `_id` or external id), `model`
(answered or requested), `status` (a code such as `429`, a class such as `5xx`, or `success` /
`error`), `name`, `key_id`, metadata pairs as `metadata.<key>=<value>` (repeatable) or one
`metadata_key` + `metadata_value`, and a time range `from` / `to` (ISO 8601 or unix seconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from waystation.api.management import TraceList, TraceRecord
from waystation.errors import InvalidRequest
from waystation.server.http import Request
from waystation.server.routes import query
from waystation.server.routing import Route
from waystation.store.contacts import ContactStore
from waystation.store.traces import StatusFilter, TraceFilter, TraceQueries

if TYPE_CHECKING:
    from waystation.server.app import Gateway

_CLASS = re.compile(r"^([1-5])xx$")
LIST_QUERY = ("limit", "starting_after", "ending_before", "thread_id", "contact_id", "model",
              "status", "name", "key_id", "metadata.<key>", "metadata_key", "metadata_value",
              "from", "to", "include_bodies")


def status_filter(raw: str | None) -> StatusFilter | None:
    if not raw:
        return None
    value = raw.strip().lower()
    if value in ("success", "ok"):
        return StatusFilter(failed=False)
    if value in ("error", "failed"):
        return StatusFilter(failed=True)
    if value.isdigit() and 100 <= int(value) <= 599:
        return StatusFilter(exact=int(value))
    found = _CLASS.match(value)
    if found:
        low = int(found[1]) * 100
        return StatusFilter(low=low, high=low + 99)
    raise InvalidRequest("status must be a code (429), a class (5xx), success or error.",
                         param="status")


def metadata_filter(req: Request) -> dict[str, str]:
    pairs = {k[len("metadata."):]: v for k, v in req.query.items()
             if k.startswith("metadata.") and len(k) > len("metadata.")}
    key, value = req.query.get("metadata_key"), req.query.get("metadata_value")
    if (key is None) != (value is None):
        raise InvalidRequest("metadata_key and metadata_value go together.",
                             param="metadata_key")
    if key is not None and value is not None:
        pairs[key] = value
    return pairs


@dataclass(frozen=True, slots=True)
class TraceRoutes:
    traces: TraceQueries
    contacts: ContactStore

    async def list(self, req: Request) -> None:
        q = req.query
        since, until = query.window(req, default_days=None)
        contact_ids: tuple[str, ...] = ()
        if q.get("contact_id"):
            resolved = await self.contacts.resolve_external_id(q["contact_id"])
            contact_ids = tuple(dict.fromkeys((resolved, q["contact_id"])))
        found = TraceFilter(
            thread_id=q.get("thread_id") or None, contact_ids=contact_ids,
            model=q.get("model") or None, status=status_filter(q.get("status")),
            metadata=metadata_filter(req), name=q.get("name") or None,
            key_id=q.get("key_id") or None, since=since, until=until)
        items, has_more = await self.traces.list(
            found, query.page(req, high=100),
            include_bodies=query.boolean(req, "include_bodies", False))
        await req.send_json(200, {"object": "list", "data": items, "has_more": has_more})

    async def get(self, req: Request) -> None:
        await req.send_json(200, await self.traces.get(req.path_params["id"]))


def register(app: Gateway) -> None:
    r = TraceRoutes(app.store.traces, app.store.contacts)
    app.router.add(Route("GET", "/v2/traces", r.list, summary="List traces, newest first",
                         answer=TraceList, tag="traces", query=LIST_QUERY))
    app.router.add(Route("GET", "/v2/traces/{id}", r.get, answer=TraceRecord, tag="traces",
                         summary="One trace with its bodies (by id or x-request-id)"))
