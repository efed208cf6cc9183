"""Authentication over the key store: known keys never touch the database."""

from __future__ import annotations

import pytest

from waystation.errors import AuthenticationFailed
from waystation.server.auth import Authenticator
from waystation.store import Store
from waystation.store.keys import hash_key


class Counting:
    """The key store, counting the calls that reach it."""

    def __init__(self, store: Store) -> None:
        self.inner = store.keys
        self.calls = 0

    async def active_hashes(self) -> dict[str, str]:
        self.calls += 1
        return await self.inner.active_hashes()

    async def lookup(self, key_hash: str) -> str | None:
        self.calls += 1
        return await self.inner.lookup(key_hash)


async def test_known_keys_cost_no_database_call_and_new_ones_work_at_once(store: Store) -> None:
    secret, record = await store.keys.create("app")
    keys = Counting(store)
    auth = Authenticator(keys, None, lookups_per_second=2)  # type: ignore[arg-type]
    await auth.refresh()
    keys.calls = 0
    for _ in range(20):
        assert await auth.authenticate(f"Bearer {secret}") == record.id
    assert keys.calls == 0
    later, made_later = await store.keys.create("later")
    assert await auth.authenticate(f"Bearer {later}") == made_later.id  # looked up once
    assert await auth.authenticate(f"Bearer {later}") == made_later.id
    assert keys.calls == 1


async def test_guessing_is_rate_limited_and_revocation_is_followed(store: Store) -> None:
    secret, _ = await store.keys.create("app")
    keys = Counting(store)
    auth = Authenticator(keys, None, lookups_per_second=2)  # type: ignore[arg-type]
    await auth.refresh()
    keys.calls = 0
    for guess in range(10):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(f"Bearer ws-guess-{guess}")
    assert keys.calls <= 2 * 2  # at most two lookups per second (the loop may span two)
    await store.keys.revoke("app")
    await auth.refresh()
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(f"Bearer {secret}")
    assert hash_key(secret) not in await store.keys.active_hashes()


async def test_a_store_that_fails_keeps_the_last_known_keys(store: Store) -> None:
    secret, record = await store.keys.create("app")
    keys = Counting(store)
    auth = Authenticator(keys, "ws-master")  # type: ignore[arg-type]
    await auth.refresh()

    async def down() -> dict[str, str]:
        raise ConnectionError("database is down")

    keys.active_hashes = down  # type: ignore[method-assign]
    await auth.refresh()
    assert await auth.authenticate(f"Bearer {secret}") == record.id
    assert await auth.authenticate("Bearer ws-master") == "master"
