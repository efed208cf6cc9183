"""Threads: requests grouped by the caller's `orq.thread.id`, with their tags and totals.

Threads label requests and hold no messages of their own. The writer keeps one row per thread
(tags seen, first and last request); totals are summed from the traces when asked, so they are
always consistent with them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row

from waystation.errors import NotFound
from waystation.store.database import Database, reachable
from waystation.store.pagination import Order, PageRequest, fetch_page
from waystation.store.schema import threads, traces
from waystation.store.times import iso
from waystation.store.trace_rows import decode
from waystation.store.traces import SUMMARY
from waystation.store.traces import render as render_trace
from waystation.store.usage import thread_totals


def render(row: Row[Any], totals: dict[str, Any] | None) -> dict[str, Any]:
    t = totals or {}
    return {
        "_id": row.id,
        "tags": decode(row.tags) or [],
        "first_seen": iso(row.first_seen),
        "last_seen": iso(row.last_seen),
        "total_requests": t.get("requests", 0),
        "total_errors": t.get("errors", 0),
        "total_input_tokens": t.get("input_tokens", 0),
        "total_output_tokens": t.get("output_tokens", 0),
        "total_tokens": t.get("total_tokens", 0),
        "total_cost": t.get("cost"),
    }


class ThreadQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, page: PageRequest, *, since: float | None = None, until: float | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Threads by when they started, newest first (a fixed order, so cursors are stable)."""
        stmt = select(threads)
        if since is not None:
            stmt = stmt.where(threads.c.last_seen >= since)
        if until is not None:
            stmt = stmt.where(threads.c.first_seen < until)
        async with reachable(self.db), self.db.transaction() as conn:
            rows, has_more = await fetch_page(
                conn, stmt, Order(threads.c.id, threads.c.first_seen), page)
            found = await thread_totals(conn, [r.id for r in rows])
        return [render(r, found.get(r.id)) for r in rows], has_more

    async def get(self, thread_id: str, page: PageRequest) -> dict[str, Any]:
        """The thread with its requests in the order they were made (a page of them)."""
        async with reachable(self.db), self.db.transaction() as conn:
            row = (await conn.execute(select(threads).where(threads.c.id == thread_id))).first()
            if row is None:
                raise NotFound(f"No thread with id {thread_id!r}.", code="thread_not_found")
            found = await thread_totals(conn, [row.id])
            requests, has_more = await fetch_page(
                conn, select(*SUMMARY).where(traces.c.thread_id == thread_id),
                Order(traces.c.id, descending=False), page)
        out = render(row, found.get(row.id))
        out["requests"] = [render_trace(r) for r in requests]
        out["requests_has_more"] = has_more
        return out
