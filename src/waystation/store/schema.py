"""The tables as the code reads and writes them today (SQLAlchemy Core, both engines).

The migrations in `store/migrations.py` build exactly this shape; they are frozen history, this
module is the present. JSON values are kept in TEXT columns, encoded by the writer with orjson
(in a worker thread, so large bodies never stall the event loop) and decoded when read; what
is filtered on has columns or side tables of its own (`contact_tags`, `trace_metadata`).
Times are unix seconds (double precision); `traces.day` is the UTC day, for grouping.
"""

from __future__ import annotations

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
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("applied", Double, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("hint", Text, nullable=False),
    Column("created", Double, nullable=False),
    Column("revoked", Double),
)

contacts = Table(
    "contacts",
    metadata,
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

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("contact_id", String(26), ForeignKey("contacts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("tag", String(255), primary_key=True),
)
Index("ix_contact_tags_tag", contact_tags.c.tag)

threads = Table(
    "threads",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("tags", Text),
    Column("first_seen", Double, nullable=False),
    Column("last_seen", Double, nullable=False),
)
Index("ix_threads_first_seen", threads.c.first_seen)

traces = Table(
    "traces",
    metadata,
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
    # The bodies: in the trace's own row, so storing a trace is one row in one table. Lists
    # leave them out (`store/traces.py`).
    Column("request", Text),
    Column("response", Text),
    Column("extra", Text),
)

Index("ix_traces_created", traces.c.created)
# No index on `model` alone: lists filter by `model` or `requested_model`, usage reports by
# their coalesce, and an index on `model` serves neither (migration 8 dropped it).
Index("ix_traces_key", traces.c.key_id, traces.c.created)
# Partial: most traces name no thread or contact, and most request ids are the trace's own id.
# Migration 7 makes them so in both databases; only SQLite's condition is declared here, since
# declaring PostgreSQL's loads its dialect, which an SQLite deployment would import for nothing.
Index("ix_traces_request_id", traces.c.request_id,
      sqlite_where=traces.c.request_id != traces.c.id)
Index("ix_traces_thread", traces.c.thread_id, traces.c.created,
      sqlite_where=traces.c.thread_id.is_not(None))
Index("ix_traces_contact", traces.c.contact_id, traces.c.created,
      sqlite_where=traces.c.contact_id.is_not(None))

trace_metadata = Table(
    "trace_metadata",
    metadata,
    Column("trace_id", String(26), ForeignKey("traces.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String(512), nullable=False),
)
# Finds the traces with a metadata pair without reading every trace's metadata.
Index("ix_trace_metadata_pair", trace_metadata.c.key, trace_metadata.c.value)

prompts = Table(
    "prompts",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("description", Text),
    Column("metadata", Text),
    Column("created", Double, nullable=False),
    Column("updated", Double, nullable=False),
    Column("version", Integer, nullable=False),  # the latest version's number
    Column("version_id", String(26), nullable=False),  # and its id
)
Index("ix_prompts_created", prompts.c.created)

prompt_versions = Table(
    "prompt_versions",
    metadata,
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
Index("ix_prompt_versions_number", prompt_versions.c.prompt_id, prompt_versions.c.number,
      unique=True)

files = Table(
    "files",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("purpose", String(64), nullable=False),  # canonical: FILE_PURPOSE_…
    Column("content_type", String(255)),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created", Double, nullable=False),
)
Index("ix_files_purpose", files.c.purpose, files.c.id)

file_contents = Table(
    "file_contents",
    metadata,
    Column("file_id", String(64), ForeignKey("files.id", ondelete="CASCADE"),
           primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

ALL_TABLES = (
    "file_contents", "files", "prompt_versions", "prompts", "trace_metadata", "traces",
    "threads", "contact_tags", "contacts", "api_keys", "schema_version",
)
