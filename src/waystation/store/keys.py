"""API keys in the database: only a hash of each key is kept.

Keys are 240-bit random strings, so a plain SHA-256 is enough (no password stretching is needed
for secrets nobody chose), and looking a hash up leaks nothing an attacker could use. The server
never reads this table on the hot path: `server/auth.py` keeps the active hashes in memory.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import func, select, update

from waystation.store.database import Database
from waystation.store.schema import api_keys

KEY_PREFIX = "ws-"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    hint: str
    created: float
    revoked: float | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


_COLUMNS = (api_keys.c.id, api_keys.c.name, api_keys.c.hint, api_keys.c.created,
            api_keys.c.revoked)


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str) -> tuple[str, KeyRecord]:
        """A new key: the secret is returned once and never stored."""
        await self.db.ensure_schema()
        secret = KEY_PREFIX + secrets.token_urlsafe(30)
        record = KeyRecord(
            id="key_" + secrets.token_hex(8),
            name=name,
            hint=f"{secret[:6]}…{secret[-4:]}",
            created=time.time(),
            revoked=None,
        )
        async with self.db.transaction(immediate=True) as conn:
            await conn.execute(api_keys.insert().values(
                id=record.id, name=name, key_hash=hash_key(secret), hint=record.hint,
                created=record.created))
        return secret, record

    async def list_keys(self, *, include_revoked: bool = True) -> list[KeyRecord]:
        await self.db.ensure_schema()
        query = select(*_COLUMNS).order_by(api_keys.c.created)
        if not include_revoked:
            query = query.where(api_keys.c.revoked.is_(None))
        async with self.db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [KeyRecord(*row) for row in rows]

    async def revoke(self, id_or_name: str) -> list[KeyRecord]:
        """Revoke by id, or every active key of that name; returns what was revoked."""
        await self.db.ensure_schema()
        now = time.time()
        match = ((api_keys.c.id == id_or_name) | (api_keys.c.name == id_or_name)) & (
            api_keys.c.revoked.is_(None))
        async with self.db.transaction(immediate=True) as conn:
            rows = (await conn.execute(select(*_COLUMNS).where(match))).all()
            if rows:
                await conn.execute(update(api_keys).where(
                    api_keys.c.id.in_([r[0] for r in rows])).values(revoked=now))
        return [KeyRecord(r[0], r[1], r[2], r[3], now) for r in rows]

    async def active_hashes(self) -> dict[str, str]:
        """hash → key id of every key that is not revoked."""
        await self.db.ensure_schema()
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(api_keys.c.key_hash, api_keys.c.id).where(
                api_keys.c.revoked.is_(None)))).all()
        return {h: i for h, i in rows}

    async def lookup(self, key_hash: str) -> str | None:
        """The id of the active key with this hash, if any."""
        await self.db.ensure_schema()
        async with self.db.transaction() as conn:
            found = (await conn.execute(select(api_keys.c.id).where(
                (api_keys.c.key_hash == key_hash) & api_keys.c.revoked.is_(None)))).scalar()
        return found

    async def count_active(self) -> int:
        await self.db.ensure_schema()
        async with self.db.transaction() as conn:
            found = (await conn.execute(select(func.count()).select_from(api_keys).where(
                api_keys.c.revoked.is_(None)))).scalar()
        return int(found or 0)
