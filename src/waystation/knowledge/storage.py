"""Which backend holds the knowledge bases.

`WAYSTATION_KNOWLEDGE_DATABASE_URL` set to a `postgresql://` URL: PostgreSQL with pgvector
(the server must have the extension; it is created if the role may). Unset: the embedded SQLite
file `knowledge.db` under the home folder. The gateway's own `WAYSTATION_DATABASE_URL` is not
reused implicitly, since a Postgres that serves traces well may lack pgvector; point both
settings at the same server when it has it.
"""

from __future__ import annotations

from pathlib import Path

from waystation.knowledge.backend import KnowledgeBackend


def build_backend(url: str | None, home: Path) -> KnowledgeBackend:
    if url and url.split("://", 1)[0] in ("postgres", "postgresql", "postgresql+asyncpg"):
        from waystation.knowledge.postgres_backend import PostgresBackend

        return PostgresBackend(url)
    from waystation.knowledge.sqlite_backend import SqliteBackend

    if url and url.startswith("sqlite:///"):
        return SqliteBackend(Path(url[len("sqlite:///"):]))
    if url:
        raise ValueError("WAYSTATION_KNOWLEDGE_DATABASE_URL must be a postgresql:// or "
                         "sqlite:/// URL")
    return SqliteBackend(home / "knowledge.db")
