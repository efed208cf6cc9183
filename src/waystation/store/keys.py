"""API keys in the embedded SQLite database: only a hash of each key is kept.

Keys are 240-bit random strings, so a plain SHA-256 is enough (no password stretching is needed
for secrets nobody chose), and looking a hash up leaks nothing an attacker could use.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KEY_PREFIX = "ws-"

_SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        created REAL NOT NULL,
        revoked REAL
    )
    """,
]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    hint: str
    created: float
    revoked: float | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Blocking SQLite access: the server calls it from a worker thread, never on the loop."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            for stmt in _SCHEMA:
                conn.execute(stmt)
            yield conn
            conn.commit()
        finally:
            conn.close()

    def create(self, name: str) -> tuple[str, KeyRecord]:
        """A new key: the secret is returned once and never stored."""
        secret = KEY_PREFIX + secrets.token_urlsafe(30)
        record = KeyRecord(
            id="key_" + secrets.token_hex(8),
            name=name,
            hint=f"{secret[:6]}…{secret[-4:]}",
            created=time.time(),
            revoked=None,
        )
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO api_keys (id, name, key_hash, hint, created) VALUES (?, ?, ?, ?, ?)",
                (record.id, name, hash_key(secret), record.hint, record.created),
            )
        return secret, record

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyRecord]:
        sql = "SELECT id, name, hint, created, revoked FROM api_keys"
        if not include_revoked:
            sql += " WHERE revoked IS NULL"
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY created").fetchall()
        return [KeyRecord(*row) for row in rows]

    def revoke(self, id_or_name: str) -> list[KeyRecord]:
        """Revoke by id, or every active key of that name; returns what was revoked."""
        now = time.time()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, name, hint, created, revoked FROM api_keys "
                "WHERE (id = ? OR name = ?) AND revoked IS NULL",
                (id_or_name, id_or_name),
            ).fetchall()
            conn.executemany(
                "UPDATE api_keys SET revoked = ? WHERE id = ?", [(now, r[0]) for r in rows]
            )
        return [KeyRecord(r[0], r[1], r[2], r[3], now) for r in rows]

    def active_hashes(self) -> dict[str, str]:
        """hash → key id of every key that is not revoked."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT key_hash, id FROM api_keys WHERE revoked IS NULL"
            ).fetchall()
        return {h: i for h, i in rows}

    def lookup(self, key_hash: str) -> str | None:
        """The id of the active key with this hash, if any."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id FROM api_keys WHERE key_hash = ? AND revoked IS NULL", (key_hash,)
            ).fetchone()
        return row[0] if row else None

    def count_active(self) -> int:
        return len(self.active_hashes())
