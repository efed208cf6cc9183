"""Bearer-key authentication without a database call on the hot path.

Active key hashes are held in memory and refreshed in the background, so a known key never
costs a database call. A key the process has not seen yet is looked up in the store (at most
`lookups_per_second` such lookups, so guessing keys cannot load the database), so a key created
with `waystation keys create` works at once and a revoked one stops within the refresh interval.
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
        self,
        store: KeyStore,
        master_key: str | None,
        *,
        refresh_seconds: float = 5.0,
        lookups_per_second: int = 20,
    ) -> None:
        self._store = store
        self._master_hash = hash_key(master_key) if master_key else None
        self._hashes: dict[str, str] = {}
        self._refresh_seconds = refresh_seconds
        self._lookups_per_second = lookups_per_second
        self._window = 0
        self._window_lookups = 0
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._closed = False

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_loop())

    async def close(self) -> None:
        self._closed = True  # stops the loop should a driver swallow the cancellation
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def refresh(self) -> None:
        try:
            self._hashes = await self._store.active_hashes()
        except Exception as error:  # a broken store must not take serving down with it
            if not self._failing:  # once per outage, not every few seconds
                log.error("cannot read API keys (%s); keeping the last known set", error)
            self._failing = True
            return
        if self._failing:
            log.info("API keys can be read again")
            self._failing = False

    async def _refresh_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._refresh_seconds)
            await self.refresh()

    async def authenticate(self, header: str | None) -> str:
        """The key id behind an `Authorization` header, or `AuthenticationFailed`."""
        key = _bearer(header)
        digest = hash_key(key)
        if self._master_hash is not None and hmac.compare_digest(digest, self._master_hash):
            return MASTER_KEY_ID
        key_id = self._hashes.get(digest)
        if key_id is None and self._may_look_up():
            try:
                key_id = await self._store.lookup(digest)
            except Exception:
                log.exception("cannot look an API key up")
            if key_id is not None:
                self._hashes[digest] = key_id
        if key_id is None:
            raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
        return key_id

    def _may_look_up(self) -> bool:
        window = int(time.monotonic())
        if window != self._window:
            self._window, self._window_lookups = window, 0
        self._window_lookups += 1
        return self._window_lookups <= self._lookups_per_second


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
