"""Numbered migrations and the `schema_version` table that says which have run.

Each migration is a function that builds its tables with SQLAlchemy Core on a private `MetaData`
(so it keeps meaning what it meant when written, whatever `schema.py` becomes later) and runs in
its own transaction together with the row that records it. Both engines have transactional DDL,
so a migration is applied whole or not at all. Concurrent starts (several workers, several
replicas) serialise on a lock: PostgreSQL's transaction-scoped advisory lock, SQLite's write
lock taken at BEGIN IMMEDIATE. Whoever gets the lock second finds the work done and skips it.

To change the schema: append a migration with the next number; never edit one that shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from waystation.store.database import Database

_LOCK_ID = 0x57A7_10D0  # the advisory lock all Waystation migrations share


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _m1_api_keys(conn: Connection) -> None:
    # Installations from before this layer already have this table (same columns): keep it.
    if inspect(conn).has_table("api_keys"):
        return
    md = MetaData()
    Table(
        "api_keys", md,
        Column("id", String(64), primary_key=True),
        Column("name", Text, nullable=False),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("hint", Text, nullable=False),
        Column("created", Double, nullable=False),
        Column("revoked", Double),
    )
    md.create_all(conn)


def _m2_contacts(conn: Connection) -> None:
    md = MetaData()
    Table(
        "contacts", md,
        Column("id", String(26), primary_key=True),
        Column("external_id", String(255), nullable=False, unique=True),
        Column("display_name", Text),
        Column("email", Text),
        Column("avatar_url", Text),
        Column("tags", Text),
        Column("metadata", Text),
        Column("created", Double, nullable=False),
        Column("updated", Double, nullable=False),
    )
    tags = Table(
        "contact_tags", md,
        Column("contact_id", String(26), ForeignKey("contacts.id", ondelete="CASCADE"),
               primary_key=True),
        Column("tag", String(255), primary_key=True),
    )
    Index("ix_contact_tags_tag", tags.c.tag)
    md.create_all(conn)


def _m3_traces_and_threads(conn: Connection) -> None:
    md = MetaData()
    threads = Table(
        "threads", md,
        Column("id", String(255), primary_key=True),
        Column("tags", Text),
        Column("first_seen", Double, nullable=False),
        Column("last_seen", Double, nullable=False),
    )
    Index("ix_threads_first_seen", threads.c.first_seen)
    traces = Table(
        "traces", md,
        Column("id", String(26), primary_key=True),
        Column("request_id", String(128)),
        Column("created", Double, nullable=False),
        Column("day", String(10), nullable=False),
        Column("key_id", String(64)),
        Column("name", Text),
        Column("requested_model", String(255)),
        Column("model", String(255)),
        Column("status", Integer, nullable=False),
        Column("failed", Boolean, nullable=False),
        Column("stream", Boolean, nullable=False),
        Column("latency_ms", Double),
        Column("ttft_ms", Double),
        Column("usage", Text),
        Column("prompt_tokens", BigInteger, nullable=False),
        Column("completion_tokens", BigInteger, nullable=False),
        Column("total_tokens", BigInteger, nullable=False),
        Column("cached_tokens", BigInteger, nullable=False),
        Column("reasoning_tokens", BigInteger, nullable=False),
        Column("cost", Double),
        Column("cost_details", Text),
        Column("cache_hit", Boolean),
        Column("attempts", Text),
        Column("contact_id", String(255)),
        Column("thread_id", String(255)),
        Column("metadata", Text),
        Column("error", Text),
    )
    Index("ix_traces_created", traces.c.created)
    Index("ix_traces_request_id", traces.c.request_id)
    Index("ix_traces_thread", traces.c.thread_id, traces.c.created)
    Index("ix_traces_contact", traces.c.contact_id, traces.c.created)
    Index("ix_traces_model", traces.c.model, traces.c.created)
    Index("ix_traces_key", traces.c.key_id, traces.c.created)
    Table(
        "trace_bodies", md,
        Column("trace_id", String(26), ForeignKey("traces.id", ondelete="CASCADE"),
               primary_key=True),
        Column("request", Text),
        Column("response", Text),
        Column("extra", Text),
    )
    meta = Table(
        "trace_metadata", md,
        Column("trace_id", String(26), ForeignKey("traces.id", ondelete="CASCADE"),
               primary_key=True),
        Column("key", String(64), primary_key=True),
        Column("value", String(512), nullable=False),
    )
    Index("ix_trace_metadata_pair", meta.c.key, meta.c.value)
    md.create_all(conn)


def _m4_prompts(conn: Connection) -> None:
    md = MetaData()
    prompts = Table(
        "prompts", md,
        Column("id", String(26), primary_key=True),
        Column("display_name", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("description", Text),
        Column("metadata", Text),
        Column("created", Double, nullable=False),
        Column("updated", Double, nullable=False),
        Column("version", Integer, nullable=False),
        Column("version_id", String(26), nullable=False),
    )
    Index("ix_prompts_created", prompts.c.created)
    versions = Table(
        "prompt_versions", md,
        Column("id", String(26), primary_key=True),
        Column("prompt_id", String(26), ForeignKey("prompts.id", ondelete="CASCADE"),
               nullable=False),
        Column("number", Integer, nullable=False),
        Column("messages", Text, nullable=False),
        Column("model", String(255)),
        Column("parameters", Text, nullable=False),
        Column("commit_message", Text),
        Column("created", Double, nullable=False),
    )
    Index("ix_prompt_versions_number", versions.c.prompt_id, versions.c.number, unique=True)
    md.create_all(conn)


def _m5_files(conn: Connection) -> None:
    md = MetaData()
    files = Table(
        "files", md,
        Column("id", String(64), primary_key=True),
        Column("file_name", Text, nullable=False),
        Column("purpose", String(64), nullable=False),
        Column("content_type", String(255)),
        Column("bytes", BigInteger, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("created", Double, nullable=False),
    )
    Index("ix_files_purpose", files.c.purpose, files.c.id)
    Table(
        "file_contents", md,
        Column("file_id", String(64), ForeignKey("files.id", ondelete="CASCADE"),
               primary_key=True),
        Column("data", LargeBinary, nullable=False),
    )
    md.create_all(conn)


def _m6_bodies_in_traces(conn: Connection) -> None:
    """Move each trace's bodies from `trace_bodies` into its `traces` row.

    A trace was two rows in two tables, each with its own key index; one row is about a tenth
    less work for the trace writer, on every request.
    """
    for column in ("request", "response", "extra"):
        conn.execute(text(f"ALTER TABLE traces ADD COLUMN {column} TEXT"))
    if conn.dialect.name == "sqlite":
        conn.execute(text(
            "UPDATE traces SET (request, response, extra) = (SELECT b.request, b.response, "
            "b.extra FROM trace_bodies AS b WHERE b.trace_id = traces.id) "
            "WHERE id IN (SELECT trace_id FROM trace_bodies)"))
    else:
        conn.execute(text(
            "UPDATE traces AS t SET request = b.request, response = b.response, "
            "extra = b.extra FROM trace_bodies AS b WHERE b.trace_id = t.id"))
    conn.execute(text("DROP TABLE trace_bodies"))


def _m7_partial_trace_indexes(conn: Connection) -> None:
    """Index only the traces that have a value to find them by.

    Most traces name no thread and no contact, and a trace's request id is its own id unless
    the caller chose one (a lookup by request id tries the id first). Left out of these three
    indexes, the common trace costs three index inserts less to store.
    """
    md = MetaData()
    traces = Table(
        "traces", md,
        Column("id", String(26), primary_key=True),
        Column("request_id", String(128)),
        Column("created", Double, nullable=False),
        Column("contact_id", String(255)),
        Column("thread_id", String(255)),
    )

    def partial_index(name: str, *columns: Column[Any], where: ColumnElement[bool]) -> Index:
        index = Index(name, *columns)
        # this database's option only: naming the other's would load its dialect
        index.dialect_kwargs[f"{conn.dialect.name}_where"] = where
        return index

    partial = (
        partial_index("ix_traces_request_id", traces.c.request_id,
                      where=traces.c.request_id != traces.c.id),
        partial_index("ix_traces_thread", traces.c.thread_id, traces.c.created,
                      where=traces.c.thread_id.is_not(None)),
        partial_index("ix_traces_contact", traces.c.contact_id, traces.c.created,
                      where=traces.c.contact_id.is_not(None)),
    )
    for index in partial:
        conn.execute(text(f"DROP INDEX {index.name}"))
        index.create(conn)


def _m8_no_model_index(conn: Connection) -> None:
    """Drop the index on (model, created), which no query uses.

    Lists filter by `model = ? OR requested_model = ?` and usage reports by their coalesce;
    neither can be answered from an index on `model` alone, so every stored trace paid an
    index insert (about a tenth of SQLite's work for the row) that no read ever used.
    """
    conn.execute(text("DROP INDEX IF EXISTS ix_traces_model"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "api keys", _m1_api_keys),
    Migration(2, "contacts and their tags", _m2_contacts),
    Migration(3, "traces, their bodies and metadata; threads", _m3_traces_and_threads),
    Migration(4, "prompts and their versions", _m4_prompts),
    Migration(5, "uploaded files and their contents", _m5_files),
    Migration(6, "trace bodies in the traces table", _m6_bodies_in_traces),
    Migration(7, "trace indexes only over traces with a value", _m7_partial_trace_indexes),
    Migration(8, "no trace index on the model alone", _m8_no_model_index),
)

LATEST = MIGRATIONS[-1].version


def _version_table() -> Table:
    return Table(
        "schema_version", MetaData(),
        Column("version", Integer, primary_key=True),
        Column("name", Text, nullable=False),
        Column("applied", Double, nullable=False),
    )


async def current_version(db: Database) -> int:
    """The highest applied migration (0 for an empty database)."""
    table = _version_table()
    async with db.transaction() as conn:
        exists = await conn.run_sync(lambda c: inspect(c).has_table("schema_version"))
        if not exists:
            return 0
        found = (await conn.execute(select(table.c.version).order_by(
            table.c.version.desc()).limit(1))).scalar()
        return int(found or 0)


async def upgrade(db: Database, progress: Callable[[str], None] | None = None) -> list[int]:
    """Apply every pending migration in order; returns the versions applied by this call."""
    say = progress or (lambda _msg: None)
    if await current_version(db) >= LATEST:
        return []
    table = _version_table()
    applied: list[int] = []
    for migration in MIGRATIONS:
        async with db.transaction(immediate=True) as conn:
            if not db.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            await conn.run_sync(lambda c: table.create(c, checkfirst=True))
            done = (await conn.execute(
                select(table.c.version).where(table.c.version == migration.version)
            )).first()
            if done is not None:
                continue
            say(f"applying migration {migration.version:04d}: {migration.name}")
            started = time.perf_counter()
            await conn.run_sync(migration.apply)
            await conn.execute(table.insert().values(
                version=migration.version, name=migration.name, applied=time.time()))
            applied.append(migration.version)
            say(f"applied migration {migration.version:04d} "
                f"in {(time.perf_counter() - started) * 1000:.0f} ms")
    return applied


def describe() -> list[dict[str, Any]]:
    return [{"version": m.version, "name": m.name} for m in MIGRATIONS]
