"""Stored prompts and their immutable, numbered versions.

A prompt is what people name and file (display name, path, description, metadata); a version
is what a request runs (messages, an optional model, model parameters). Versions are never
edited: a change to the config makes version N+1 and points the prompt at it, so a trace that
says "prompt p, version 3" always means the same thing. A change of the naming fields alone
updates the prompt in place and makes no version, and neither does an update that leaves the
config as it was.

Callers validate configs before they reach this module (`prompts/config.py`); here they are
only stored. Listeners registered in `on_change` hear the id of every prompt changed or
deleted through this process, once the change is committed (the resolver's cache uses it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.engine import Row

from waystation.errors import NotFound
from waystation.store.database import Database, reachable
from waystation.store.engine import AsyncConnection
from waystation.store.ids import new_ulid
from waystation.store.pagination import Order, PageRequest, fetch_page
from waystation.store.schema import prompt_versions, prompts
from waystation.store.trace_rows import decode, encode

INFO_FIELDS = ("display_name", "path", "description", "metadata")


@dataclass(frozen=True, slots=True)
class PromptConfig:
    """What a version holds: messages, an optional model, parameters under OpenAI names."""

    messages: list[dict[str, Any]]
    model: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "model": self.model, "parameters": self.parameters}


@dataclass(frozen=True, slots=True)
class PromptVersion:
    id: str
    prompt_id: str
    number: int
    config: PromptConfig
    commit_message: str | None
    created: float


@dataclass(frozen=True, slots=True)
class StoredPrompt:
    id: str
    display_name: str
    path: str
    description: str | None
    metadata: dict[str, Any]
    created: float
    updated: float
    latest: PromptVersion


ConfigChange = Callable[[PromptConfig], PromptConfig]


class PromptStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_change: list[Callable[[str], None]] = []

    async def create(
        self, info: dict[str, Any], config: PromptConfig, commit_message: str | None = None
    ) -> StoredPrompt:
        """A new prompt with its version 1."""
        now = time.time()
        prompt_id, version_id = new_ulid(now), new_ulid(now)
        async with reachable(self.db), self.db.transaction(immediate=True) as conn:
            await conn.execute(prompts.insert().values(
                id=prompt_id, display_name=info["display_name"], path=info["path"],
                description=info.get("description"), metadata=encode(info.get("metadata") or {}),
                created=now, updated=now, version=1, version_id=version_id))
            await _add_version(conn, version_id, prompt_id, 1, config, commit_message, now)
            made = await _one(conn, prompt_id)
        self._changed(prompt_id)
        return made

    async def get(self, prompt_id: str) -> StoredPrompt:
        async with reachable(self.db), self.db.transaction() as conn:
            return await _one(conn, prompt_id)

    async def update(
        self,
        prompt_id: str,
        info: dict[str, Any],
        change: ConfigChange | None = None,
        commit_message: str | None = None,
    ) -> StoredPrompt:
        """Set the naming fields given in `info`; when `change` turns the latest config into a
        different one, that one becomes the next version. The prompt row is locked for the
        transaction, so concurrent updates number their versions one after the other."""
        async with reachable(self.db), self.db.transaction(immediate=True) as conn:
            current = await _one(conn, prompt_id, lock=True)
            now = time.time()
            values: dict[str, Any] = {k: info[k] for k in INFO_FIELDS if k in info}
            if "metadata" in values:
                values["metadata"] = encode(values["metadata"] or {})
            if change is not None:
                config = change(current.latest.config)
                if config != current.latest.config:
                    number, version_id = current.latest.number + 1, new_ulid(now)
                    await _add_version(conn, version_id, prompt_id, number, config,
                                       commit_message, now)
                    values.update(version=number, version_id=version_id)
            if values:
                values["updated"] = now
                await conn.execute(update(prompts).where(prompts.c.id == prompt_id)
                                   .values(**values))
            changed = await _one(conn, prompt_id)
        self._changed(prompt_id)
        return changed

    async def delete(self, prompt_id: str) -> None:
        """The prompt and every version of it."""
        async with reachable(self.db), self.db.transaction(immediate=True) as conn:
            await _one(conn, prompt_id)
            await conn.execute(delete(prompt_versions)
                               .where(prompt_versions.c.prompt_id == prompt_id))
            await conn.execute(delete(prompts).where(prompts.c.id == prompt_id))
        self._changed(prompt_id)

    async def versions(
        self, prompt_id: str, page: PageRequest
    ) -> tuple[list[PromptVersion], bool]:
        """A prompt's versions, newest first."""
        stmt = select(prompt_versions).where(prompt_versions.c.prompt_id == prompt_id)
        order = Order(prompt_versions.c.id, prompt_versions.c.number)
        async with reachable(self.db), self.db.transaction() as conn:
            await _one(conn, prompt_id)
            rows, has_more = await fetch_page(conn, stmt, order, page)
        return [_version(r) for r in rows], has_more

    async def version(self, prompt_id: str, ref: str) -> PromptVersion:
        """One version by its `_id`, its number (`3`) or `latest`."""
        where = prompt_versions.c.id == ref
        if ref.isdigit():
            where = or_(where, prompt_versions.c.number == int(ref))
        async with reachable(self.db), self.db.transaction() as conn:
            current = await _one(conn, prompt_id)
            if ref == "latest":
                return current.latest
            row = (await conn.execute(select(prompt_versions).where(
                prompt_versions.c.prompt_id == prompt_id, where))).first()
        if row is None:
            raise NotFound(f"Prompt {prompt_id!r} has no version {ref!r}.",
                           param="version_id", code="prompt_version_not_found")
        return _version(row)

    async def latest(self, prompt_id: str) -> PromptVersion | None:
        """The version a request with `orq.prompt {id, version: "latest"}` runs, if any."""
        stmt = select(prompt_versions).join(prompts, and_(
            prompts.c.id == prompt_versions.c.prompt_id,
            prompts.c.version == prompt_versions.c.number,
        )).where(prompts.c.id == prompt_id)
        async with reachable(self.db), self.db.transaction() as conn:
            row = (await conn.execute(stmt)).first()
        return _version(row) if row is not None else None

    async def list(
        self, page: PageRequest, search: str | None = None
    ) -> tuple[list[StoredPrompt], bool]:
        """Newest first; `search` matches part of the display name, path or description."""
        stmt = _with_latest()
        if search:
            needle = search.lower()
            stmt = stmt.where(or_(*(
                func.lower(column).contains(needle, autoescape=True)
                for column in (prompts.c.display_name, prompts.c.path, prompts.c.description)
            )))
        async with reachable(self.db), self.db.transaction() as conn:
            rows, has_more = await fetch_page(conn, stmt, Order(prompts.c.id, prompts.c.created),
                                              page)
        return [_prompt(r) for r in rows], has_more

    def _changed(self, prompt_id: str) -> None:
        for listener in self.on_change:
            listener(prompt_id)


def _with_latest() -> Select[Any]:
    v = prompt_versions
    return select(
        prompts, v.c.id.label("v_id"), v.c.number.label("v_number"),
        v.c.messages.label("v_messages"), v.c.model.label("v_model"),
        v.c.parameters.label("v_parameters"), v.c.commit_message.label("v_commit_message"),
        v.c.created.label("v_created"),
    ).select_from(prompts.join(v, v.c.id == prompts.c.version_id))


async def _one(conn: AsyncConnection, prompt_id: str, *, lock: bool = False) -> StoredPrompt:
    if lock:  # the row alone: PostgreSQL re-checks a locked join against stale version rows
        await conn.execute(select(prompts.c.id).where(prompts.c.id == prompt_id)
                           .with_for_update())
    row = (await conn.execute(_with_latest().where(prompts.c.id == prompt_id))).first()
    if row is None:
        raise NotFound(f"No prompt with id {prompt_id!r}.", code="prompt_not_found")
    return _prompt(row)


async def _add_version(
    conn: AsyncConnection, version_id: str, prompt_id: str, number: int,
    config: PromptConfig, commit_message: str | None, now: float,
) -> None:
    await conn.execute(prompt_versions.insert().values(
        id=version_id, prompt_id=prompt_id, number=number, messages=encode(config.messages),
        model=config.model, parameters=encode(config.parameters),
        commit_message=commit_message, created=now))


def _prompt(row: Row[Any]) -> StoredPrompt:
    latest = PromptVersion(
        id=row.v_id, prompt_id=row.id, number=row.v_number,
        config=PromptConfig(decode(row.v_messages), row.v_model,
                            decode(row.v_parameters) or {}),
        commit_message=row.v_commit_message, created=row.v_created,
    )
    return StoredPrompt(
        id=row.id, display_name=row.display_name, path=row.path, description=row.description,
        metadata=decode(row.metadata) or {}, created=row.created, updated=row.updated,
        latest=latest,
    )


def _version(row: Row[Any]) -> PromptVersion:
    return PromptVersion(
        id=row.id, prompt_id=row.prompt_id, number=row.number,
        config=PromptConfig(decode(row.messages), row.model, decode(row.parameters) or {}),
        commit_message=row.commit_message, created=row.created,
    )
