"""Cursor pagination as the orq management APIs do it: `limit`, `starting_after`, `ending_before`.

Keyset, not offset: a cursor is the `_id` of an item, and the page is what comes after (or
before) that item in the list's order, so pages stay correct while rows are added. Lists are
ordered by a sort key with the id as tie-breaker; when the sort key is the id itself (ULIDs sort
by creation time) a cursor need not even exist any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import ColumnElement

from waystation.errors import InvalidRequest
from waystation.store.engine import AsyncConnection


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """The list order: `key` (None: the id alone), then the id, both in one direction."""

    id: ColumnElement[Any]
    key: ColumnElement[Any] | None = None
    descending: bool = True


async def fetch_page(
    conn: AsyncConnection, query: Select[Any], order: Order, page: PageRequest
) -> tuple[list[Row[Any]], bool]:
    """One page of `query` and whether more items follow in the direction of travel."""
    backwards = page.ending_before is not None and page.starting_after is None
    cursor = page.ending_before if backwards else page.starting_after
    descending = order.descending != backwards
    if cursor is not None:
        query = query.where(await _beyond(conn, query, order, cursor, descending))
    keys = [order.key, order.id] if order.key is not None else [order.id]
    query = query.order_by(*[k.desc() if descending else k.asc() for k in keys])
    rows = list((await conn.execute(query.limit(page.limit + 1))).all())
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if backwards:
        rows.reverse()
    return rows, has_more


async def _beyond(
    conn: AsyncConnection, query: Select[Any], order: Order, cursor: str, descending: bool
) -> ColumnElement[bool]:
    def past(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return column < value if descending else column > value

    if order.key is None:
        return past(order.id, cursor)
    found = (await conn.execute(
        select(order.key).select_from(query.get_final_froms()[0]).where(order.id == cursor)
    )).first()
    if found is None:
        raise InvalidRequest(f"No item with id {cursor!r} to page from.",
                             param="starting_after", code="invalid_cursor")
    value = found[0]
    return or_(past(order.key, value), and_(order.key == value, past(order.id, cursor)))
