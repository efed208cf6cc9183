"""Bearer-key authentication without a database call on the hot path.

Active key hashes are held in memory and refreshed in the background; a key the process has
not seen yet triggers at most one refresh a second (off the event loop), so a key created with
`waystation keys create` works at once and a revoked one stops within the refresh interval.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time

from waystation.errors import AuthenticationFailed
from waystation.store.keys import KeyStore, hash_key

log = logging.getLogger("waystation.auth")

MASTER_KEY_ID = "master"


class Authenticator:
    def __init__(
        self, store: KeyStore, master_key: str | None, *, refresh_seconds: float = 5.0
    ) -> None:
        self._store = store
        self._master_hash = hash_key(master_key) if master_key else None
        self._hashes: dict[str, str] = {}
        self._refresh_seconds = refresh_seconds
        self._last_refresh = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def refresh(self) -> None:
        try:
            self._hashes = await asyncio.to_thread(self._store.active_hashes)
        except Exception:  # a broken store must not take serving down with it
            log.exception("cannot read API keys; keeping the last known set")
        self._last_refresh = time.monotonic()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            await self.refresh()

    async def authenticate(self, header: str | None) -> str:
        """The key id behind an `Authorization` header, or `AuthenticationFailed`."""
        key = _bearer(header)
        digest = hash_key(key)
        if self._master_hash is not None and hmac.compare_digest(digest, self._master_hash):
            return MASTER_KEY_ID
        key_id = self._hashes.get(digest)
        if key_id is None and time.monotonic() - self._last_refresh > 1.0:
            async with self._lock:
                if time.monotonic() - self._last_refresh > 1.0:
                    await self.refresh()
            key_id = self._hashes.get(digest)
        if key_id is None:
            raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
        return key_id


def _bearer(header: str | None) -> str:
    if not header:
        raise AuthenticationFailed(
            "Missing API key: send 'Authorization: Bearer <key>'.", code="missing_api_key"
        )
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise AuthenticationFailed(
            "Malformed Authorization header: expected 'Bearer <key>'.", code="invalid_api_key"
        )
    return key
