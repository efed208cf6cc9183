"""`filter_by` trees → SQL WHERE fragments for SQLite (JSON1) and PostgreSQL (jsonb).

Values always travel as bound parameters (jsonb ones as Python objects, which the Postgres
backend's codec encodes); keys too, except in SQLite's JSON paths, where the
key (already restricted by `filters._KEY` to characters that need no escaping) is quoted.
Both compilers keep the type-exact semantics of `filters.matches`.
"""

from __future__ import annotations

from typing import Any

from waystation.knowledge.filters import Condition, Filter, Group


class Params:
    """Collects bound values; `add` returns the placeholder (`?` or `$n`)."""

    def __init__(self, style: str, values: list[Any] | None = None) -> None:
        self.style = style
        self.values: list[Any] = values if values is not None else []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return "?" if self.style == "qmark" else f"${len(self.values)}"


def sqlite_where(f: Filter | None, params: Params, column: str = "c.metadata") -> str:
    if f is None:
        return "1"
    if isinstance(f, Group):
        joiner = " AND " if f.kind == "and" else " OR "
        return "(" + joiner.join(sqlite_where(i, params, column) for i in f.items) + ")"
    return _sqlite_condition(f, params, column)


def _sqlite_condition(c: Condition, p: Params, column: str) -> str:
    path = f'$."{c.key}"'

    def kind() -> str:
        return f"json_type({column}, {p.add(path)})"

    def value() -> str:
        return f"json_extract({column}, {p.add(path)})"

    def equal(v: Any) -> str:
        if isinstance(v, bool):
            return f"IFNULL({kind()} = '{'true' if v else 'false'}', 0)"
        if isinstance(v, str):
            return f"IFNULL({kind()} = 'text' AND {value()} = {p.add(v)}, 0)"
        return f"IFNULL({kind()} IN ('integer', 'real') AND {value()} = {p.add(v)}, 0)"

    if c.op == "exists":
        return f"{kind()} IS {'NOT ' if c.value else ''}NULL"
    if c.op in ("eq", "ne"):
        test = equal(c.value)
        return test if c.op == "eq" else f"NOT {test}"
    if c.op in ("in", "nin"):
        test = "(" + " OR ".join(equal(v) for v in c.value) + ")"
        return test if c.op == "in" else f"NOT {test}"
    sign = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
    return f"IFNULL({kind()} IN ('integer', 'real') AND {value()} {sign} {p.add(c.value)}, 0)"


def postgres_where(f: Filter | None, params: Params, column: str = "c.metadata") -> str:
    if f is None:
        return "TRUE"
    if isinstance(f, Group):
        joiner = " AND " if f.kind == "and" else " OR "
        return "(" + joiner.join(postgres_where(i, params, column) for i in f.items) + ")"
    return _postgres_condition(f, params, column)


def _postgres_condition(c: Condition, p: Params, column: str) -> str:
    def contains(v: Any) -> str:  # jsonb containment is type-exact and numeric-aware
        return f"({column} @> {p.add({c.key: v})}::jsonb)"

    if c.op == "exists":
        test = f"({column} ? {p.add(c.key)}::text)"
        return test if c.value else f"NOT {test}"
    if c.op in ("eq", "ne"):
        return contains(c.value) if c.op == "eq" else f"NOT {contains(c.value)}"
    if c.op in ("in", "nin"):
        test = "(" + " OR ".join(contains(v) for v in c.value) + ")"
        return test if c.op == "in" else f"NOT {test}"
    sign = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
    key = p.add(c.key)
    number = (f"(CASE WHEN jsonb_typeof({column} -> {key}::text) = 'number' "
              f"THEN ({column} ->> {key}::text)::float8 END)")
    return f"COALESCE({number} {sign} {p.add(float(c.value))}::float8, FALSE)"
