"""`/v2/usage` (requests, tokens and cost by key, contact, model, day or thread) and `/metrics`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from waystation.api.management import UsageReport
from waystation.errors import InvalidRequest
from waystation.observe.metrics import CONTENT_TYPE, GatewayMetrics
from waystation.server.http import Request
from waystation.server.routes import query
from waystation.server.routing import Route
from waystation.store.contacts import ContactStore
from waystation.store.database import Database
from waystation.store.times import iso
from waystation.store.usage import GROUPS, UsageQuery, usage_report

if TYPE_CHECKING:
    from waystation.server.app import Gateway


@dataclass(frozen=True, slots=True)
class UsageRoutes:
    db: Database
    contacts: ContactStore
    metrics: GatewayMetrics

    async def usage(self, req: Request) -> None:
        q = req.query
        groups = [g.strip() for g in (q.get("group_by") or "model").split(",") if g.strip()]
        unknown = [g for g in groups if g not in GROUPS]
        if unknown or len(groups) != len(set(groups)):
            raise InvalidRequest(f"group_by takes a comma list of {', '.join(GROUPS)}.",
                                 param="group_by")
        since, until = query.window(req, default_days=30)
        contact = q.get("contact_id") or None
        if contact:
            contact = await self.contacts.resolve_external_id(contact)
        rows, has_more = await usage_report(self.db, UsageQuery(
            group_by=groups, since=since, until=until, key_id=q.get("key_id") or None,
            model=q.get("model") or None, contact_id=contact,
            limit=query.integer(req, "limit", 1000, 1, 10_000)))
        await req.send_json(200, {
            "object": "list", "data": rows, "has_more": has_more, "group_by": groups,
            "start": iso(since), "end": iso(until), "currency": "USD"})

    async def prometheus(self, req: Request) -> None:
        await req.send_bytes(200, self.metrics.render(),
                             [(b"content-type", CONTENT_TYPE.encode())])


def register(app: Gateway) -> None:
    r = UsageRoutes(app.store.db, app.store.contacts, app.metrics)
    app.router.add(Route(
        "GET", "/v2/usage", r.usage, answer=UsageReport, tag="usage",
        summary="Requests, tokens and cost grouped by key, contact, model, day or thread",
        query=("group_by", "from", "to", "period", "key_id", "model", "contact_id", "limit")))
    app.router.add(Route(
        "GET", "/metrics", r.prometheus, auth=app.settings.metrics_require_key,
        tag="operations", summary="Prometheus metrics (text exposition format)"))
