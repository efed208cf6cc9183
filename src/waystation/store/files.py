"""Uploaded files (`/v2/files`): metadata in `files`, bytes in `file_contents`.

The bytes live in the database, not on a local disk, so that every replica in front of one
PostgreSQL sees every upload (a datasource created on replica A may be ingested by a worker on
replica B) and a backup of the database is a backup of the files. A file is at most 10 MB, so
a row holds it comfortably; the limit of this choice is volume, not size: many gigabytes of
uploads make the database big and its backups slow, and then an object store behind the same
`FileStore` interface is the better home. Listing and getting never read the bytes.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Row

from waystation.errors import InvalidRequest, NotFound
from waystation.knowledge.ingest.worker import StoredFile
from waystation.store.database import Database, reachable
from waystation.store.ids import new_ulid
from waystation.store.pagination import Order, PageRequest, fetch_page
from waystation.store.schema import file_contents, files
from waystation.store.times import iso

PURPOSES = {
    "retrieval": "FILE_PURPOSE_RETRIEVAL",
    "knowledge_datasource": "FILE_PURPOSE_KNOWLEDGE_DATASOURCE",
    "batch": "FILE_PURPOSE_BATCH",
    "code_interpreter": "FILE_PURPOSE_CODE_INTERPRETER",
}
DEFAULT_PURPOSE = "FILE_PURPOSE_RETRIEVAL"
PROJECT_ID = "default"  # a self-hosted gateway is one project


def canonical_purpose(raw: str | None) -> str:
    """`retrieval`, `FILE_PURPOSE_RETRIEVAL` (any case) → `FILE_PURPOSE_RETRIEVAL`."""
    if raw is None or not raw.strip():
        return DEFAULT_PURPOSE
    value = raw.strip().lower()
    value = value.removeprefix("file_purpose_")
    if value not in PURPOSES:
        raise InvalidRequest(f"purpose must be one of {', '.join(PURPOSES)} (or their "
                             "FILE_PURPOSE_* names).", param="purpose")
    return PURPOSES[value]


def render(row: Row[Any]) -> dict[str, Any]:
    """The orq SDK 4.17 `File` (`file_id`, `bytes` as a string, `created_at`), plus the older
    management-API spellings (`_id`, `object`, `created`) that other clients read."""
    created = iso(row.created)
    return {
        "_id": row.id, "file_id": row.id, "object": "file", "purpose": row.purpose,
        "file_name": row.file_name, "bytes": str(row.bytes), "content_type": row.content_type,
        "created": created, "created_at": created, "project_id": PROJECT_ID,
    }


class FileStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, file_name: str, data: bytes, *, purpose: str | None = None,
                     content_type: str | None = None) -> dict[str, Any]:
        now = time.time()
        file_id = new_ulid(now)
        values = {"id": file_id, "file_name": file_name, "purpose": canonical_purpose(purpose),
                  "content_type": content_type, "bytes": len(data),
                  "sha256": hashlib.sha256(data).hexdigest(), "created": now}
        async with reachable(self.db), self.db.transaction(immediate=True) as conn:
            await conn.execute(files.insert().values(**values))
            await conn.execute(file_contents.insert().values(file_id=file_id, data=data))
            return render(await _one(conn, file_id))

    async def get(self, file_id: str) -> dict[str, Any]:
        async with reachable(self.db), self.db.transaction() as conn:
            return render(await _one(conn, file_id))

    async def list(self, page: PageRequest, purpose: str | None = None
                   ) -> tuple[list[dict[str, Any]], bool]:
        """Newest first, as orq lists them."""
        query = select(files)
        if purpose:
            query = query.where(files.c.purpose == canonical_purpose(purpose))
        async with reachable(self.db), self.db.transaction() as conn:
            rows, has_more = await fetch_page(conn, query, Order(files.c.id), page)
        return [render(r) for r in rows], has_more

    async def delete(self, file_id: str) -> None:
        async with reachable(self.db), self.db.transaction(immediate=True) as conn:
            await _one(conn, file_id)
            await conn.execute(delete(file_contents).where(file_contents.c.file_id == file_id))
            await conn.execute(delete(files).where(files.c.id == file_id))

    async def read(self, file_id: str) -> StoredFile:
        """The file with its bytes (the ingestion worker's `FileSource`)."""
        async with reachable(self.db), self.db.transaction() as conn:
            row = await _one(conn, file_id)
            data = (await conn.execute(select(file_contents.c.data).where(
                file_contents.c.file_id == file_id))).scalar_one()
        return StoredFile(row.file_name, row.content_type, bytes(data))


async def _one(conn: Any, file_id: str) -> Row[Any]:
    row = (await conn.execute(select(files).where(files.c.id == file_id))).first()
    if row is None:
        raise NotFound(f"No file with id {file_id!r}.", code="file_not_found")
    return row
