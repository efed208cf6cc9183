"""Aggregates over traces: usage reports, per-contact metrics, per-thread totals.

Sums are done by the database over the token and cost columns the writer filled in. Cost sums
skip requests whose price is unknown; `unpriced_requests` counts those (requests with tokens but
no price) so a report never passes an incomplete total off as complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import ColumnElement

from waystation.store.database import Database, reachable
from waystation.store.engine import AsyncConnection
from waystation.store.schema import traces

GROUPS: dict[str, tuple[str, ColumnElement[Any]]] = {
    "key": ("key_id", traces.c.key_id),
    "contact": ("contact_id", traces.c.contact_id),
    "model": ("model", func.coalesce(traces.c.model, traces.c.requested_model)),
    "day": ("day", traces.c.day),
    "thread": ("thread_id", traces.c.thread_id),
}


def _sums() -> list[ColumnElement[Any]]:
    unpriced = and_(traces.c.cost.is_(None), traces.c.total_tokens > 0)
    return [
        func.count().label("requests"),
        func.sum(case((traces.c.failed, 1), else_=0)).label("errors"),
        func.sum(traces.c.prompt_tokens).label("input_tokens"),
        func.sum(traces.c.completion_tokens).label("output_tokens"),
        func.sum(traces.c.total_tokens).label("total_tokens"),
        func.sum(traces.c.cached_tokens).label("cached_tokens"),
        func.sum(traces.c.reasoning_tokens).label("reasoning_tokens"),
        func.sum(traces.c.cost).label("cost"),
        func.sum(case((unpriced, 1), else_=0)).label("unpriced_requests"),
    ]


def totals(row: Row[Any]) -> dict[str, Any]:
    """The summed columns of one aggregate row, as plain numbers."""
    return {
        "requests": int(row.requests or 0),
        "errors": int(row.errors or 0),
        "input_tokens": int(row.input_tokens or 0),
        "output_tokens": int(row.output_tokens or 0),
        "total_tokens": int(row.total_tokens or 0),
        "cached_tokens": int(row.cached_tokens or 0),
        "reasoning_tokens": int(row.reasoning_tokens or 0),
        "cost": None if row.cost is None else round(float(row.cost), 10),
        "unpriced_requests": int(row.unpriced_requests or 0),
    }


def _window(since: float | None, until: float | None) -> list[ColumnElement[bool]]:
    out = []
    if since is not None:
        out.append(traces.c.created >= since)
    if until is not None:
        out.append(traces.c.created < until)
    return out


@dataclass(frozen=True, slots=True)
class UsageQuery:
    group_by: Sequence[str]
    since: float | None = None
    until: float | None = None
    key_id: str | None = None
    model: str | None = None
    contact_id: str | None = None
    limit: int = 1000


async def usage_report(db: Database, query: UsageQuery) -> tuple[list[dict[str, Any]], bool]:
    """One row per group (ordered by the group values), and whether rows were cut off."""
    columns = [GROUPS[g][1].label(GROUPS[g][0]) for g in query.group_by]
    stmt = select(*columns, *_sums()).where(*_window(query.since, query.until))
    if query.key_id:
        stmt = stmt.where(traces.c.key_id == query.key_id)
    if query.model:
        stmt = stmt.where(func.coalesce(traces.c.model, traces.c.requested_model) == query.model)
    if query.contact_id:
        stmt = stmt.where(traces.c.contact_id == query.contact_id)
    if columns:
        stmt = stmt.group_by(*[GROUPS[g][1] for g in query.group_by]).order_by(
            *[GROUPS[g][1] for g in query.group_by])
    async with reachable(db), db.transaction() as conn:
        rows = (await conn.execute(stmt.limit(query.limit + 1))).all()
    out = []
    for row in rows[: query.limit]:
        item = {GROUPS[g][0]: getattr(row, GROUPS[g][0]) for g in query.group_by}
        item.update(totals(row))
        out.append(item)
    return out, len(rows) > query.limit


async def contact_metrics(
    conn: AsyncConnection, external_ids: Sequence[str], since: float, until: float
) -> dict[str, dict[str, Any]]:
    """`metrics` of each contact over [since, until), as the orq contacts API shapes them."""
    if not external_ids:
        return {}
    stmt = select(traces.c.contact_id, *_sums()).where(
        traces.c.contact_id.in_(list(external_ids)), *_window(since, until)
    ).group_by(traces.c.contact_id)
    out: dict[str, dict[str, Any]] = {}
    for row in (await conn.execute(stmt)).all():
        t = totals(row)
        out[row.contact_id] = {
            "total_cost": t["cost"] or 0.0,
            "total_tokens": t["total_tokens"],
            "total_requests": t["requests"],
            "error_rate": round(t["errors"] / t["requests"], 6) if t["requests"] else 0.0,
        }
    return out


async def thread_totals(
    conn: AsyncConnection, thread_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    if not thread_ids:
        return {}
    stmt = select(traces.c.thread_id, *_sums()).where(
        traces.c.thread_id.in_(list(thread_ids))).group_by(traces.c.thread_id)
    return {row.thread_id: totals(row) for row in (await conn.execute(stmt)).all()}
