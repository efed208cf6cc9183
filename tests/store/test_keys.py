"""API keys: only hashes are stored; revoked keys stop matching."""

from __future__ import annotations

from sqlalchemy import select

from waystation.store import Store
from waystation.store.keys import hash_key
from waystation.store.schema import api_keys


async def test_create_list_lookup_revoke(store: Store) -> None:
    keys = store.keys
    secret, record = await keys.create("ci")
    assert secret.startswith("ws-") and record.name == "ci"
    assert await keys.lookup(hash_key(secret)) == record.id
    assert await keys.active_hashes() == {hash_key(secret): record.id}
    assert await keys.count_active() == 1
    listed = await keys.list_keys()
    assert [(k.id, k.revoked) for k in listed] == [(record.id, None)]
    revoked = await keys.revoke("ci")
    assert [k.id for k in revoked] == [record.id]
    assert await keys.lookup(hash_key(secret)) is None
    assert await keys.active_hashes() == {}
    assert await keys.revoke("ci") == []
    assert (await keys.list_keys())[0].revoked is not None
    assert await keys.list_keys(include_revoked=False) == []


async def test_the_secret_itself_is_never_stored(store: Store) -> None:
    secret, _ = await store.keys.create("x")
    async with store.db.transaction() as conn:
        rows = (await conn.execute(select(api_keys))).all()
    assert rows and all(secret not in str(tuple(r)) for r in rows)


async def test_revoke_by_id_leaves_other_keys_of_the_same_name(store: Store) -> None:
    _, one = await store.keys.create("team")
    second, two = await store.keys.create("team")
    assert [k.id for k in await store.keys.revoke(one.id)] == [one.id]
    assert await store.keys.lookup(hash_key(second)) == two.id
