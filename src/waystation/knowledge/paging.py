"""Keyset pages over ULID ids, shared by both backends' SQL (ids sort by creation time).

Lists of knowledge bases and datasources go newest first, as the other management lists do;
chunks go oldest first, which is the order of the document they were cut from.
"""

from __future__ import annotations

import re
from typing import Any

from waystation.knowledge.model import Page
from waystation.knowledge.sql_filters import Params


def page_clause(page: Page, params: Params, *, descending: bool,
                column: str = "id") -> tuple[str, str]:
    """(extra WHERE condition, ORDER BY … LIMIT … [OFFSET …]) for `page`."""
    backwards = page.ending_before is not None and page.starting_after is None
    down = descending != backwards
    where = "1=1"
    cursor = page.ending_before if backwards else page.starting_after
    if cursor is not None:
        where = f"{column} {'<' if down else '>'} {params.add(cursor)}"
    tail = f"ORDER BY {column} {'DESC' if down else 'ASC'} LIMIT {int(page.limit) + 1}"
    if page.offset:
        tail += f" OFFSET {int(page.offset)}"
    return where, tail


def finish_page(rows: list[Any], page: Page) -> tuple[list[Any], bool]:
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.ending_before is not None and page.starting_after is None:
        rows.reverse()
    return rows, has_more


_TERM = re.compile(r"\w+", re.UNICODE)


def query_terms(text: str, limit: int = 64) -> list[str]:
    """The distinct words of a keyword query, lower-cased: any of them may match (BM25 ranks
    chunks holding more and rarer ones higher)."""
    return list(dict.fromkeys(t.lower() for t in _TERM.findall(text)))[:limit]


def like_pattern(q: str) -> str:
    """A LIKE pattern for "text contains q", with LIKE's wildcards escaped (ESCAPE '\\')."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
