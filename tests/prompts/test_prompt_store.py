"""The prompt store on SQLite and PostgreSQL: versions are immutable and numbered, only config
changes make them, and lists page by cursor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from waystation.errors import NotFound
from waystation.store import Store
from waystation.store.pagination import PageRequest
from waystation.store.prompts import PromptConfig

SYSTEM = [{"role": "system", "content": "You answer in French."}]
INFO = {"display_name": "French", "path": "Default/agents", "description": "translates",
        "metadata": {"language": "French"}}


def config(text: str = "You answer in French.", **parameters: object) -> PromptConfig:
    return PromptConfig([{"role": "system", "content": text}], "openai/gpt-4o-mini",
                        dict(parameters))


def becomes(text: str) -> Callable[[PromptConfig], PromptConfig]:
    """A config change that sets the system text (and keeps the rest of `config()`)."""
    return lambda _current: config(text)


async def test_a_new_prompt_is_version_one(store: Store) -> None:
    made = await store.prompts.create(INFO, config(temperature=0.2), "first")
    assert made.latest.number == 1 and made.latest.commit_message == "first"
    assert made.latest.config == config(temperature=0.2)
    got = await store.prompts.get(made.id)
    assert got == made and got.metadata == {"language": "French"}
    latest = await store.prompts.latest(made.id)
    assert latest is not None and latest.id == made.latest.id


async def test_a_config_change_makes_the_next_version_and_keeps_the_old_one(
        store: Store) -> None:
    made = await store.prompts.create(INFO, config())
    changed = await store.prompts.update(made.id, {}, becomes("Now in Dutch."), "dutch")
    assert changed.latest.number == 2 and changed.latest.commit_message == "dutch"
    first = await store.prompts.version(made.id, "1")
    assert first.config == config() and first.id == made.latest.id
    assert (await store.prompts.version(made.id, changed.latest.id)).number == 2
    assert (await store.prompts.version(made.id, "latest")).number == 2
    latest = await store.prompts.latest(made.id)
    assert latest is not None and latest.config.messages[0]["content"] == "Now in Dutch."


async def test_naming_changes_and_unchanged_configs_make_no_version(store: Store) -> None:
    made = await store.prompts.create(INFO, config())
    renamed = await store.prompts.update(made.id, {"display_name": "Français",
                                                   "metadata": {}}, None)
    assert renamed.display_name == "Français" and renamed.metadata == {}
    assert renamed.latest.number == 1 and renamed.updated >= made.updated
    same = await store.prompts.update(made.id, {}, becomes("You answer in French."))
    assert same.latest.number == 1
    versions, _ = await store.prompts.versions(made.id, PageRequest())
    assert [v.number for v in versions] == [1]


async def test_concurrent_updates_number_their_versions_one_after_the_other(
        store: Store) -> None:
    made = await store.prompts.create(INFO, config())
    await asyncio.gather(*(store.prompts.update(made.id, {}, becomes(f"v{i}"))
                           for i in range(4)))
    versions, _ = await store.prompts.versions(made.id, PageRequest(limit=10))
    assert [v.number for v in versions] == [5, 4, 3, 2, 1]
    assert (await store.prompts.get(made.id)).latest.number == 5


async def test_deleting_a_prompt_removes_its_versions(store: Store) -> None:
    made = await store.prompts.create(INFO, config())
    await store.prompts.update(made.id, {}, becomes("two"))
    heard: list[str] = []
    store.prompts.on_change.append(heard.append)
    await store.prompts.delete(made.id)
    assert heard == [made.id]
    assert await store.prompts.latest(made.id) is None
    with pytest.raises(NotFound):
        await store.prompts.get(made.id)
    with pytest.raises(NotFound):
        await store.prompts.versions(made.id, PageRequest())
    with pytest.raises(NotFound):
        await store.prompts.delete(made.id)


async def test_lists_page_newest_first_and_search_names_paths_and_descriptions(
        store: Store) -> None:
    ids = []
    for i in range(5):
        info = {**INFO, "display_name": f"Prompt {i}", "path": f"Project/{'ab'[i % 2]}"}
        ids.append((await store.prompts.create(info, config())).id)
    first, more = await store.prompts.list(PageRequest(limit=2))
    assert [p.id for p in first] == [ids[4], ids[3]] and more
    second, more = await store.prompts.list(PageRequest(limit=2, starting_after=ids[3]))
    assert [p.id for p in second] == [ids[2], ids[1]] and more
    back, _ = await store.prompts.list(PageRequest(limit=2, ending_before=ids[2]))
    assert [p.id for p in back] == [ids[4], ids[3]]
    found, _ = await store.prompts.list(PageRequest(), search="PROMPT 3")
    assert [p.id for p in found] == [ids[3]]
    in_b, _ = await store.prompts.list(PageRequest(), search="project/b")
    assert [p.id for p in in_b] == [ids[3], ids[1]]
    described, _ = await store.prompts.list(PageRequest(), search="translat")
    assert len(described) == 5


async def test_versions_page_newest_first(store: Store) -> None:
    made = await store.prompts.create(INFO, config())
    for i in range(2, 6):
        await store.prompts.update(made.id, {}, becomes(f"v{i}"))
    page, more = await store.prompts.versions(made.id, PageRequest(limit=2))
    assert [v.number for v in page] == [5, 4] and more
    rest, more = await store.prompts.versions(
        made.id, PageRequest(limit=3, starting_after=page[-1].id))
    assert [v.number for v in rest] == [3, 2, 1] and not more


async def test_unknown_prompts_and_versions_are_not_found(store: Store) -> None:
    made = await store.prompts.create(INFO, config())
    with pytest.raises(NotFound) as missing:
        await store.prompts.get("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert missing.value.code == "prompt_not_found"
    with pytest.raises(NotFound) as no_version:
        await store.prompts.version(made.id, "7")
    assert no_version.value.code == "prompt_version_not_found"
    assert await store.prompts.latest("nope") is None
