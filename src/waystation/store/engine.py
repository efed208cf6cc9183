"""An asyncio face for a SQLAlchemy Core engine, made without SQLAlchemy's asyncio extension.

The extension's package imports its ORM session classes with it, and importing the ORM is about
a tenth of the gateway's start (bench/RESULTS.md); the store writes Core statements only. What
the stores ask of a connection is small (execute, run_sync, a transaction, execution options,
the driver's own connection, invalidate), and each is the synchronous Core method run through
SQLAlchemy's greenlet bridge (`greenlet_spawn`), where the async driver (aiosqlite, asyncpg)
awaits on the event loop. That bridge is what the extension itself is built on.

The async drivers buffer a statement's rows as it executes, so the result a call returns is
read without awaiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, TypeVarTuple, overload

from sqlalchemy import Connection, CursorResult, Engine, create_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util import greenlet_spawn

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")


def create_async_engine(url: str, **options: Any) -> AsyncEngine:
    """`sqlalchemy.create_engine(url, **options)`, for a driver that speaks asyncio."""
    engine = create_engine(url, **options)
    if not engine.dialect.is_async:
        driver = engine.dialect.driver
        engine.dispose()
        raise ValueError(f"the database driver {driver!r} does not support asyncio; "
                         "use postgresql:// (asyncpg) or sqlite:// (aiosqlite)")
    return AsyncEngine(engine)


class AsyncEngine:
    """Connections whose calls are awaited; `sync_engine` takes event listeners."""

    def __init__(self, sync_engine: Engine) -> None:
        self.sync_engine = sync_engine

    def connect(self) -> AsyncConnection:
        """A connection, checked out of the pool when entered with `async with`."""
        return AsyncConnection(self)

    async def dispose(self) -> None:
        await greenlet_spawn(self.sync_engine.dispose)


class AsyncConnection:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Connection | None = None

    @property
    def sync_connection(self) -> Connection:
        if self._sync is None:
            raise RuntimeError("the connection is not open: use `async with engine.connect()`")
        return self._sync

    async def __aenter__(self) -> AsyncConnection:
        self._sync = await greenlet_spawn(self.engine.sync_engine.connect)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await _finish(self.close())

    async def close(self) -> None:
        """Give the connection back to the pool (a transaction still open is rolled back)."""
        sync, self._sync = self._sync, None
        if sync is not None:
            await greenlet_spawn(sync.close)

    @overload
    async def execute(self, statement: TypedReturnsRows[*Ts], parameters: Any = None, *,
                      execution_options: Any = None) -> CursorResult[*Ts]: ...

    @overload
    async def execute(self, statement: Executable, parameters: Any = None, *,
                      execution_options: Any = None) -> CursorResult[*tuple[Any, ...]]: ...

    async def execute(self, statement: Any, parameters: Any = None, *,
                      execution_options: Any = None) -> Any:
        return await greenlet_spawn(self.sync_connection.execute, statement, parameters,
                                    execution_options=execution_options)

    async def run_sync(self, fn: Callable[Concatenate[Connection, P], T],
                       *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(connection, ...)` on the synchronous connection (inspection, DDL)."""
        return await greenlet_spawn(partial(fn, self.sync_connection, *args, **kwargs))

    async def execution_options(self, **options: Any) -> AsyncConnection:
        """Set options on this connection (as Core's method does); returns it."""
        await greenlet_spawn(self.sync_connection.execution_options, **options)
        return self

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction: committed when the block ends, rolled back when it raises (Core's
        own context-manager rules, commit failures included)."""
        transaction = await greenlet_spawn(self.sync_connection.begin)
        transaction.__enter__()
        try:
            yield self
        except BaseException as error:
            await greenlet_spawn(transaction.__exit__, type(error), error, error.__traceback__)
            raise
        await greenlet_spawn(transaction.__exit__, None, None, None)

    async def get_raw_connection(self) -> PoolProxiedConnection:
        """The pool's connection, whose `driver_connection` is the driver's own object."""
        return await greenlet_spawn(getattr, self.sync_connection, "connection")

    async def invalidate(self, exception: BaseException | None = None) -> None:
        """Discard the driver's connection: the pool will not hand it out again."""
        await greenlet_spawn(self.sync_connection.invalidate, exception)


async def _finish(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run a clean-up to its end even when the caller is cancelled meanwhile.

    A connection abandoned half-way back to its pool could be returned after the pool is
    disposed of; the cancellation is raised once the clean-up is done.
    """
    task = asyncio.ensure_future(cleanup)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
    if cancelled is not None:
        raise cancelled
