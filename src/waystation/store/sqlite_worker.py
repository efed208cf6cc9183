"""A plain sqlite3 connection on a thread of its own, for bulk work that must not touch the loop.

The async engine runs every statement through SQLAlchemy on the event-loop thread and hops to
aiosqlite's thread once per statement. For the trace writer's batches that is most of their cost,
so the batch is instead handed whole to this worker: one hop, then row building, statements and
commit all run here. One thread (a single-worker executor) owns the connection, so it is never
shared between threads, and jobs run one at a time in the order they were given.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_NOTHING: dict[object, None] = {}


def bind_plain_values_directly() -> None:
    """Register `None` and `bool` with the sqlite3 module's adapters, as NULL and 0/1.

    The module binds only exact int, float, str and bytearray values without looking for an
    adapter; for any other value (None and bool among them) it first asks the type for
    `__conform__` and the protocol for `__adapt__`, and each miss builds and discards an
    AttributeError with a formatted message. A trace row binds about ten of them: measured,
    that lookup was the largest single cost of writing a trace, above SQLite's own. A
    registered adapter is found first, by one dictionary lookup. Stored values are unchanged
    (None is still NULL, a bool still 0 or 1); the registry is the process's, so this holds
    for every sqlite3 connection in it, the async engine's too.
    """
    sqlite3.register_adapter(type(None), _NOTHING.get)  # a C call: None for any key
    sqlite3.register_adapter(bool, int)


# The page size of a database file this process creates (an existing file keeps its own). A
# trace row is about 1.3 kB: a 4 kB page held two, and every page the WAL takes costs a write
# for its frame header and one for the page, and the checkpoint a read and a write more. With
# 16 kB pages the writer makes a third of the system calls per trace (/proc/self/io: 0.41
# writes and 0.08 reads instead of 1.29 and 0.37), the file is 12 % smaller, and the traced
# gateway spent less CPU per request in both side-by-side runs that compared them
# (bench/RESULTS.md, eighth set).
PAGE_SIZE = 16_384


def sqlite_pragmas(busy_timeout: float) -> tuple[str, ...]:
    """The pragmas of every connection, async or not: WAL, so readers never wait for writers.

    The page size comes first: it only takes effect while the file is still empty, before WAL
    mode writes its header, and is ignored afterwards.
    """
    return (f"PRAGMA page_size={PAGE_SIZE}", "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")


class SqliteWorker:
    """Runs `fn(connection)` jobs on one thread that owns one connection to `path`."""

    def __init__(self, path: Path, *, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        bind_plain_values_directly()
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the worker thread; a transaction it leaves open is rolled back."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="waystation-sqlite")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:  # the thread ends even when closing its connection failed
            executor.shutdown(wait=False)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connect()
        try:
            return fn(conn)
        finally:
            if conn.in_transaction:
                try:
                    conn.rollback()
                except sqlite3.Error:  # the connection is unusable: the next job opens another
                    self._disconnect()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: the jobs say BEGIN IMMEDIATE themselves, as the async engine does
            # Its statements are the writer's multi-row INSERTs (up to about 80 kB each once
            # prepared), a few per table and set of columns: the cache is kept small.
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   cached_statements=32)
            try:
                for pragma in sqlite_pragmas(self.busy_timeout):
                    conn.execute(pragma)
                # the statement journal of a multi-row INSERT that may abort (trace metadata,
                # for its foreign key) in memory, not a temporary file made for every batch;
                # this connection runs only the writer's jobs, never a large sort
                conn.execute("PRAGMA temp_store=MEMORY")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
