"""Write one batch of traces in one transaction: traces (with their bodies), metadata, contacts
and threads.

A batch is the recorder's bulk work, so it bypasses SQLAlchemy's per-statement compiling and
per-row parameter processing, which would run on the event-loop thread: rows are built as
tuples in a worker thread (`trace_rows.build_rows`) and sent with the driver's own bulk calls.

- SQLite: the whole batch (rows, statements, commit) is one job on the database's SQLite
  worker (`Database.sqlite_worker`): one thread hop, plain `executemany` of prepared SQL.
- PostgreSQL: rows are built in a worker thread, then the asyncpg connection under SQLAlchemy's
  pool writes them with COPY and `executemany`, so the loop only encodes and sends.

Contacts and threads are read, merged in Python (`trace_merge.merge`, shared by both) and
written back. A caller may send the same X-Request-ID twice, and a trace's id is its request id
when that is a ULID, so an id can be taken: the traces are inserted first, and only when an id
collides is the transaction rolled back and redone with the taken ids renamed. The common batch
pays no lookup for it.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite

from waystation.store.database import Database
from waystation.store.schema import trace_metadata, traces
from waystation.store.trace_merge import (
    CONTACT_COLUMNS,
    CONTACT_READ,
    CONTACT_SET,
    CONTACT_TAG_COLUMNS,
    THREAD_COLUMNS,
    THREAD_SET,
    Upserts,
    merge,
)
from waystation.store.trace_rows import (
    METADATA_COLUMNS,
    TRACE_COLUMNS,
    RecordedTrace,
    Row,
    TraceRows,
    build_rows,
    yield_gil,
)


class TraceSink:
    """Where the recorder's batches go: the database."""

    def __init__(self, db: Database, *, log_bodies: bool = True) -> None:
        if db.is_sqlite and db.sqlite_file is None:
            raise ValueError("traces are written to an SQLite file; an in-memory SQLite "
                             "database is private to one connection")
        self.db = db
        self.log_bodies = log_bodies

    async def write(self, items: Sequence[RecordedTrace]) -> None:
        if not items:
            return
        await self.db.ensure_schema()
        if self.db.is_sqlite:
            await self.db.sqlite_worker().run(
                partial(_write_sqlite, items=list(items), log_bodies=self.log_bodies))
            return
        rows = await asyncio.to_thread(
            build_rows, items, log_bodies=self.log_bodies, pause=yield_gil)
        async with self.db.engine.connect() as conn:
            pg: Any = (await conn.get_raw_connection()).driver_connection  # asyncpg's
            try:
                await _write_postgres(pg, rows)
            except BaseException:
                # SQLAlchemy did not see this transaction; a connection it would not know to
                # be broken or still inside it must not go back to the pool
                if pg.is_closed() or pg.is_in_transaction():
                    await conn.invalidate()
                raise


@dataclass(frozen=True, slots=True)
class _Sql:
    """The batch's statements in one engine's SQL, made once from the column orders."""

    insert_contacts: str
    update_contacts: str
    delete_tags: str
    insert_tags: str
    insert_threads: str
    update_threads: str

    @classmethod
    def make(cls, quote: Callable[[str], str], mark: Callable[[int], str]) -> _Sql:
        def insert(table: str, columns: tuple[str, ...]) -> str:
            return (f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
                    f"VALUES ({', '.join(mark(i) for i in range(1, len(columns) + 1))})")

        def update(table: str, columns: tuple[str, ...]) -> str:
            sets = ", ".join(f"{quote(c)} = {mark(i)}" for i, c in enumerate(columns, 1))
            return f"UPDATE {table} SET {sets} WHERE id = {mark(len(columns) + 1)}"

        return cls(
            insert_contacts=insert("contacts", CONTACT_COLUMNS),
            update_contacts=update("contacts", CONTACT_SET),
            delete_tags=f"DELETE FROM contact_tags WHERE contact_id = {mark(1)}",
            insert_tags=insert("contact_tags", CONTACT_TAG_COLUMNS),
            insert_threads=insert("threads", THREAD_COLUMNS),
            update_threads=update("threads", THREAD_SET),
        )

    def upserts(self, planned: Upserts) -> list[tuple[str, list[Row]]]:
        """The contact and thread statements with their rows, in the order they must run."""
        return [
            (self.insert_contacts, planned.new_contacts),
            (self.update_contacts, planned.changed_contacts),
            (self.delete_tags, planned.retagged),
            (self.insert_tags, planned.tags),
            (self.insert_threads, planned.new_threads),
            (self.update_threads, planned.changed_threads),
        ]


_QUOTE = sqlite.dialect().identifier_preparer.quote
_SQLITE = _Sql.make(_QUOTE, lambda _i: "?")
_CONTACT_READ = ", ".join(CONTACT_READ)
_THREAD_READ = ", ".join(THREAD_COLUMNS)


# -- SQLite: one job on the worker thread -----------------------------------------------------

# A power of two: see _sqlite_insert. A prepared statement of 32 trace rows is about 80 kB,
# one of 256 rows 640 kB; in the benchmark 32 rows cost a trace 2 % fewer instructions than
# 256, and no throughput.
_ROWS_PER_INSERT = 32
# A multi-row statement that may abort half-way makes SQLite keep a statement journal, a
# temporary file written for every batch; one whose conflicts are ignored cannot abort. A row
# it skips (its id taken, or any other constraint) shows in the count, and the retry's plain
# INSERT raises whatever error was not a taken id.
_UNLESS_TAKEN = "INSERT OR IGNORE"


def _write_sqlite(conn: sqlite3.Connection, *, items: list[RecordedTrace],
                  log_bodies: bool) -> None:
    """Build the rows and write them in one transaction (the worker rolls back on failure)."""
    rows = build_rows(items, log_bodies=log_bodies, pause=yield_gil)
    conn.execute("BEGIN IMMEDIATE")
    if _sqlite_insert(conn, _UNLESS_TAKEN, traces, TRACE_COLUMNS, rows.traces) != len(rows.traces):
        # Some id is taken (or a row broke another constraint, which the plain INSERT below
        # then raises). The write lock is held from BEGIN IMMEDIATE on, so once the taken ids
        # are renamed nothing can take the new ones before the commit.
        conn.rollback()
        conn.execute("BEGIN IMMEDIATE")
        rows.rename({r[0] for r in _sqlite_found(conn, "SELECT id FROM traces", "id", rows.ids)})
        _sqlite_insert(conn, "INSERT", traces, TRACE_COLUMNS, rows.traces)
    _sqlite_insert(conn, "INSERT", trace_metadata, METADATA_COLUMNS, rows.metadata)
    if rows.contacts or rows.threads:
        planned = merge(
            rows.contacts.values(),
            _sqlite_found(conn, f"SELECT {_CONTACT_READ} FROM contacts", "external_id",
                          list(rows.contacts)),
            rows.threads.values(),
            _sqlite_found(conn, f"SELECT {_THREAD_READ} FROM threads", "id", list(rows.threads)))
        for sql, values in _SQLITE.upserts(planned):
            _sqlite_many(conn, sql, values)
    conn.commit()


def _sqlite_insert(conn: sqlite3.Connection, verb: str, table: Table,
                   columns: tuple[str, ...], rows: list[Row]) -> int:
    """`verb` (INSERT, or INSERT OR IGNORE) `rows` into `table` with multi-row INSERTs; the
    number of rows inserted.

    sqlite3 releases the GIL around every statement step, and taking it back from a busy event
    loop can cost a whole switch interval (5 ms) when the threads run on different cores: one
    step per row made a batch of a few hundred traces take seconds and the buffer overflow.
    Statements of up to `_ROWS_PER_INSERT` rows make that a handful of steps per batch. Their
    row counts are powers of two, so the connection's statement cache holds a few statements
    per table instead of one large prepared statement for every batch size it has seen.

    A nullable column that is None in every row is left out, and SQLite stores NULL: the
    sqlite3 module looks up an adapter for every None it binds (see `bind_plain_values_
    directly`), and most deployments leave several columns empty in every trace (no contact,
    thread, trace name, cache or error).
    """
    if not rows:
        return 0
    first, count = rows[0], len(rows)
    maybe = [i for i in _nullable(table, columns) if first[i] is None]
    if maybe:
        # C loops, not a Python test per row: the batch turned into columns and back (2,400
        # instructions a trace fewer than picking each row's values with an itemgetter)
        by_column = list(zip(*rows, strict=True))
        empty = [i for i in maybe if by_column[i].count(None) == count]
        if empty:
            keep = [i for i in range(len(columns)) if i not in empty]
            columns = tuple(columns[i] for i in keep)
            rows = list(zip(*[by_column[i] for i in keep], strict=True))
    variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # 999 before SQLite 3.32
    most = min(_ROWS_PER_INSERT, variables // len(columns))
    inserted = start = 0
    while start < len(rows):
        size = 1 << (min(most, len(rows) - start).bit_length() - 1)
        part = rows[start:start + size]
        start += size
        sql = _multi_row(verb, table.name, columns, size)
        inserted += conn.execute(sql, list(chain.from_iterable(part))).rowcount
    return inserted


@functools.lru_cache(maxsize=16)
def _nullable(table: Table, columns: tuple[str, ...]) -> tuple[int, ...]:
    """The positions in `columns` of the table's nullable columns."""
    return tuple(i for i, name in enumerate(columns) if table.c[name].nullable)


@functools.lru_cache(maxsize=64)
def _multi_row(verb: str, table: str, columns: tuple[str, ...], size: int) -> str:
    """An INSERT of `size` rows of `columns`."""
    group = f"({', '.join('?' * len(columns))})"
    return (f"{verb} INTO {table} ({', '.join(_QUOTE(c) for c in columns)}) "
            f"VALUES {', '.join([group] * size)}")


def _sqlite_many(conn: sqlite3.Connection, sql: str, values: list[Row]) -> None:
    if values:
        conn.executemany(sql, values)


def _sqlite_found(conn: sqlite3.Connection, select: str, column: str,
                  keys: list[str]) -> list[Row]:
    """The rows of `select` whose `column` is one of `keys` (for a batch: at most a few hundred)."""
    if not keys:
        return []
    marks = ", ".join("?" * len(keys))
    found: list[Row] = conn.execute(f"{select} WHERE {column} IN ({marks})", keys).fetchall()
    return found


# -- PostgreSQL: asyncpg under SQLAlchemy's pool ----------------------------------------------


@functools.cache
def _postgres_sql() -> _Sql:
    """PostgreSQL's statements, made on first use: an SQLite deployment never imports its
    dialect (a few percent of the start)."""
    from sqlalchemy.dialects import postgresql

    return _Sql.make(postgresql.dialect().identifier_preparer.quote, lambda i: f"${i}")


class _IdTaken(Exception):
    """A trace id of the batch is stored already (raised to roll the transaction back)."""


async def _write_postgres(pg: Any, rows: TraceRows) -> None:
    """Write the batch on `pg` (an asyncpg connection) in one transaction of its own.

    Should an id be taken, the transaction is redone with it renamed; another writer could
    take a new id in between only by a ULID collision, so a third try is a real error.
    """
    import asyncpg

    for attempt in range(3):
        try:
            async with pg.transaction():
                if attempt:
                    found = await pg.fetch("SELECT id FROM traces WHERE id = ANY($1)", rows.ids)
                    rows.rename({r[0] for r in found})
                try:
                    await pg.copy_records_to_table(
                        "traces", records=rows.traces, columns=TRACE_COLUMNS)
                except asyncpg.UniqueViolationError as error:
                    if attempt == 2:
                        raise
                    raise _IdTaken from error
                await _postgres_rest(pg, rows)
            return
        except _IdTaken:
            continue


async def _postgres_rest(pg: Any, rows: TraceRows) -> None:
    if rows.metadata:
        await pg.copy_records_to_table(
            "trace_metadata", records=rows.metadata, columns=METADATA_COLUMNS)
    if not (rows.contacts or rows.threads):
        return
    stored_contacts = await pg.fetch(
        f"SELECT {_CONTACT_READ} FROM contacts WHERE external_id = ANY($1)", list(rows.contacts)
    ) if rows.contacts else []
    stored_threads = await pg.fetch(
        f"SELECT {_THREAD_READ} FROM threads WHERE id = ANY($1)", list(rows.threads)
    ) if rows.threads else []
    planned = await asyncio.to_thread(
        merge, rows.contacts.values(), stored_contacts, rows.threads.values(), stored_threads)
    for sql, values in _postgres_sql().upserts(planned):
        if values:
            await pg.executemany(sql, values)
