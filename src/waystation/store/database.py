"""One async SQLAlchemy Core engine (`store/engine.py`) for both databases: the embedded SQLite
file and PostgreSQL.

Everything above this module writes the same SQLAlchemy Core statements; only what truly differs
between the two engines lives here: how the URL is spelt, SQLite's pragmas and its transaction
handling (the sqlite3 driver's legacy mode would autocommit DDL and skip BEGIN before SELECT,
so SQLAlchemy emits BEGIN itself), and how a migration takes its lock. The trace writer's bulk
batches bypass the async engine on SQLite: they run on `sqlite_worker()`, a plain connection on
a thread of its own with the same pragmas (see `store/sqlite_worker.py`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url

from waystation.config.settings import DATABASE_DRIVERS, DATABASE_URL_HELP
from waystation.errors import GatewayError
from waystation.store.engine import AsyncConnection, AsyncEngine, create_async_engine
from waystation.store.sqlite_worker import SqliteWorker, sqlite_pragmas

log = logging.getLogger("waystation.store")


class StoreUnavailable(GatewayError):
    """The database cannot be reached now; management calls answer 503 and may be retried."""

    status = 503
    code = "store_unavailable"


def database_url(url: str | None, home: Path) -> str:
    """The SQLAlchemy URL: `WAYSTATION_DATABASE_URL`, or the SQLite file under the home folder."""
    if not url:
        return f"sqlite+aiosqlite:///{(home / 'waystation.db').as_posix()}"
    scheme, sep, rest = url.partition("://")
    driver = DATABASE_DRIVERS.get(scheme.lower()) if sep else None
    if driver is None:  # load_settings refuses such a URL first
        raise ValueError(f"WAYSTATION_DATABASE_URL: {DATABASE_URL_HELP}")
    return f"{driver}://{rest}"


def redact_url(url: str) -> str:
    """The URL as it may be shown: never with its password."""
    return make_url(url).render_as_string(hide_password=True)


class Database:
    """The engine, plus the facts about it that the stores need."""

    def __init__(self, url: str, *, echo: bool = False, busy_timeout: float = 15.0) -> None:
        """`busy_timeout`: how long an SQLite writer waits for another's lock before failing."""
        self.url = url
        self.busy_timeout = busy_timeout
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            self._sqlite_file: Path | None = Path(parsed.database)
        else:
            self._sqlite_file = None
        self.engine: AsyncEngine = _make_engine(url, self.is_sqlite, echo, busy_timeout)
        self._sqlite_worker: SqliteWorker | None = None
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    @property
    def shown_url(self) -> str:
        return redact_url(self.url)

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file (None for PostgreSQL, or an in-memory SQLite database)."""
        return self._sqlite_file

    def sqlite_worker(self) -> SqliteWorker:
        """The thread with a plain connection to the SQLite file, made on first use."""
        if self._sqlite_file is None:
            raise ValueError(f"{self.shown_url} is not an SQLite file")
        if self._sqlite_worker is None:
            self._sqlite_worker = SqliteWorker(self._sqlite_file, busy_timeout=self.busy_timeout)
        return self._sqlite_worker

    def prepare_folder(self) -> None:
        if self._sqlite_file is not None:
            self._sqlite_file.parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def transaction(self, *, immediate: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction, committed on success.

        `immediate` takes SQLite's write lock at BEGIN, so two writers (two processes running
        migrations, say) queue on the busy timeout instead of failing half-way.
        """
        self.prepare_folder()
        async with self.engine.connect() as conn:
            if immediate and self.is_sqlite:
                conn = await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            async with conn.begin():
                yield conn

    async def ensure_schema(self, progress: Callable[[str], None] | None = None) -> None:
        """Bring the schema up to date once per process (cheap after the first success)."""
        if self._schema_ready:
            return
        from waystation.store.migrations import upgrade

        async with self._schema_lock:
            if not self._schema_ready:
                self.prepare_folder()
                await upgrade(self, progress)
                self._schema_ready = True

    async def start(self, timeout: float = 10.0) -> bool:
        """Migrate at start-up; an unreachable database is logged, never fatal to serving."""
        try:
            await asyncio.wait_for(self.ensure_schema(), timeout)
            return True
        except Exception as error:  # serving must not depend on the database
            log.error("database %s is not available (%s); traces are buffered and the "
                      "schema is brought up to date once it is", self.shown_url, error)
            return False

    async def close(self) -> None:
        """Close the SQLite worker, then the engine's pool, even when the worker's close
        fails (its error is raised once the pool is closed)."""
        worker, self._sqlite_worker = self._sqlite_worker, None
        try:
            if worker is not None:
                await worker.close()
        finally:
            await self.engine.dispose()


# SQLSTATE classes of PostgreSQL errors that say "not now" rather than "not this data":
# connection exceptions, transaction rollbacks (deadlock, serialization), insufficient
# resources, operator intervention (shutdown, cannot connect now) and system errors.
_TRANSIENT_SQLSTATE = frozenset({"08", "40", "53", "57", "58"})


def is_transient(error: BaseException) -> bool:
    """True when trying again later may succeed: the database is down, locked or slow.

    Besides SQLAlchemy's wrapped errors, this knows the drivers' own, which the trace writer's
    bulk paths raise: sqlite3's (a locked or unopenable file is an OperationalError) and
    asyncpg's (classified by SQLSTATE; its InterfaceError means the connection is unusable).
    """
    if isinstance(error, OSError | TimeoutError | ConnectionError | exc.TimeoutError):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        return isinstance(error, exc.OperationalError | exc.InterfaceError)
    if isinstance(error, sqlite3.Error):
        return isinstance(error, sqlite3.OperationalError)
    if type(error).__module__.startswith("asyncpg"):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate[:2] in _TRANSIENT_SQLSTATE or sqlstate == "55P03"  # lock timeout
        import asyncpg

        return isinstance(error, asyncpg.InterfaceError) and not isinstance(error, ValueError)
    return isinstance(error, StoreUnavailable)


@asynccontextmanager
async def reachable(db: Database) -> AsyncIterator[None]:
    """Turn "the database is down" into a 503 for management calls."""
    try:
        await db.ensure_schema()
        yield
    except Exception as error:
        if is_transient(error):
            raise StoreUnavailable(
                "The database is not reachable now; try again shortly."
            ) from error
        raise


def _make_engine(url: str, is_sqlite: bool, echo: bool, busy_timeout: float) -> AsyncEngine:
    import orjson

    def dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

    if not is_sqlite:
        return create_async_engine(
            url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5,
            json_serializer=dumps,
            connect_args={"timeout": 5, "command_timeout": 30},
        )
    engine = create_async_engine(url, echo=echo, json_serializer=dumps,
                                 connect_args={"timeout": busy_timeout})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _on_begin)
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(busy_timeout):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine
