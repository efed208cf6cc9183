"""Reading traces back: filtered, paginated lists and single traces.

Lists leave the request and response bodies out unless asked (`include_bodies`): they can be
large, and a list is for finding a trace; `GET /v2/traces/{id}` returns one whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.engine import Row

from waystation.errors import NotFound
from waystation.observe.pricing import round_parts, round_to
from waystation.store.database import Database, reachable
from waystation.store.pagination import Order, PageRequest, fetch_page
from waystation.store.schema import trace_metadata, traces
from waystation.store.times import iso
from waystation.store.trace_rows import decode


@dataclass(frozen=True, slots=True)
class StatusFilter:
    """An exact status, a class (`4xx`), or `success` / `error`."""

    exact: int | None = None
    low: int | None = None
    high: int | None = None
    failed: bool | None = None


@dataclass(frozen=True, slots=True)
class TraceFilter:
    thread_id: str | None = None
    contact_ids: tuple[str, ...] = ()  # external ids (a contact `_id` is resolved first)
    model: str | None = None  # the model that answered, or the one requested
    status: StatusFilter | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)  # every pair must match
    name: str | None = None
    key_id: str | None = None
    since: float | None = None
    until: float | None = None


BODIES = ("request", "response", "extra")
# What a list reads of each trace: everything but the bodies.
SUMMARY = tuple(column for column in traces.c if column.name not in BODIES)


def render(row: Row[Any], *, bodies: bool = False) -> dict[str, Any]:
    """A trace as the API shows it; `bodies`: `row` has the body columns, and they are shown."""
    out: dict[str, Any] = {
        "_id": row.id,
        "request_id": row.request_id,
        "created": iso(row.created),
        "name": row.name,
        "requested_model": row.requested_model,
        "model": row.model,
        "status": row.status,
        "stream": bool(row.stream),
        "latency_ms": row.latency_ms,
        "ttft_ms": row.ttft_ms,
        "usage": decode(row.usage),
        "cost": row.cost,
        "cost_details": _cost_details(decode(row.cost_details)),
        "cache_hit": row.cache_hit,
        "attempts": _attempts(decode(row.attempts)),
        "contact_id": row.contact_id,
        "thread_id": row.thread_id,
        "key_id": row.key_id,
        "metadata": decode(row.metadata) or {},
        "error": decode(row.error),
    }
    if bodies:
        out["request"] = decode(row.request)
        out["response"] = decode(row.response)
        out["extra"] = decode(row.extra) or {}
    return out


def _attempts(stored: Any) -> list[Any]:
    """The stored attempts, their durations rounded to 0.01 ms (they are stored unrounded)."""
    if not isinstance(stored, list):
        return []
    for attempt in stored:
        duration = attempt.get("duration_ms") if isinstance(attempt, dict) else None
        if isinstance(duration, float):
            attempt["duration_ms"] = round_to(duration, 100)
    return stored


def _cost_details(stored: Any) -> Any:
    """The stored cost parts, rounded (they are stored unrounded: `Cost.parts`)."""
    return round_parts(stored) if isinstance(stored, dict) else stored


def filtered(f: TraceFilter, *, bodies: bool = False) -> Select[Any]:
    stmt = select(traces) if bodies else select(*SUMMARY)
    if f.thread_id is not None:
        stmt = stmt.where(traces.c.thread_id == f.thread_id)
    if f.contact_ids:
        stmt = stmt.where(traces.c.contact_id.in_(f.contact_ids))
    if f.model is not None:
        stmt = stmt.where(or_(traces.c.model == f.model, traces.c.requested_model == f.model))
    if f.name is not None:
        stmt = stmt.where(traces.c.name == f.name)
    if f.key_id is not None:
        stmt = stmt.where(traces.c.key_id == f.key_id)
    if f.since is not None:
        stmt = stmt.where(traces.c.created >= f.since)
    if f.until is not None:
        stmt = stmt.where(traces.c.created < f.until)
    for key, value in f.metadata.items():
        stmt = stmt.where(exists().where(
            (trace_metadata.c.trace_id == traces.c.id) & (trace_metadata.c.key == key)
            & (trace_metadata.c.value == value)))
    s = f.status
    if s is not None:
        if s.exact is not None:
            stmt = stmt.where(traces.c.status == s.exact)
        if s.low is not None and s.high is not None:
            stmt = stmt.where(traces.c.status >= s.low, traces.c.status <= s.high)
        if s.failed is not None:
            stmt = stmt.where(traces.c.failed == s.failed)
    return stmt


class TraceQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, f: TraceFilter, page: PageRequest, *, include_bodies: bool = False
    ) -> tuple[list[dict[str, Any]], bool]:
        """Newest first."""
        async with reachable(self.db), self.db.transaction() as conn:
            rows, has_more = await fetch_page(
                conn, filtered(f, bodies=include_bodies), Order(traces.c.id), page)
        return [render(r, bodies=include_bodies) for r in rows], has_more

    async def get(self, ref: str) -> dict[str, Any]:
        """By `_id`, or else the newest trace of that request id (`x-request-id`)."""
        async with reachable(self.db), self.db.transaction() as conn:
            row = (await conn.execute(select(traces).where(traces.c.id == ref))).first()
            if row is None:
                # a trace whose request id is its id was found above (and is not in the
                # request id index, which this condition lets the query use)
                row = (await conn.execute(
                    select(traces).where(traces.c.request_id == ref,
                                         traces.c.request_id != traces.c.id)
                    .order_by(traces.c.id.desc()).limit(1))).first()
            if row is None:
                raise NotFound(f"No trace with id {ref!r}.", code="trace_not_found")
        return render(row, bodies=True)
