"""`/v2/prompts`: stored prompts and their versions, as the orq SDK's `prompts` client calls them.

Create answers `200` with the prompt (as orq does; SDK 4.17 accepts nothing else) and delete
`200 {}`. A prompt's `{id}` is its `_id`; a version's `{version_id}` is its `_id`, its number
or `latest`. Lists are newest first with `limit` (1 to 200, default 10), `starting_after` and
`ending_before`; the prompt list also takes `search` (part of the name, path or description).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waystation.api.prompts import (
    PromptCreate,
    PromptList,
    PromptRecord,
    PromptUpdate,
    PromptVersionList,
    PromptVersionRecord,
    render_prompt,
    render_version,
)
from waystation.errors import InvalidRequest
from waystation.prompts import config as configs
from waystation.server.http import Request
from waystation.server.routes import query
from waystation.server.routing import Route
from waystation.store.prompts import INFO_FIELDS, ConfigChange, PromptConfig, PromptStore

if TYPE_CHECKING:
    from waystation.server.app import Gateway

PAGE = ("limit", "starting_after", "ending_before")


@dataclass(frozen=True, slots=True)
class PromptRoutes:
    store: PromptStore

    async def list(self, req: Request) -> None:
        search = (req.query.get("search") or "").strip() or None
        items, has_more = await self.store.list(query.page(req, high=200), search)
        await req.send_json(200, {"object": "list", "data": [render_prompt(p) for p in items],
                                  "has_more": has_more})

    async def create(self, req: Request) -> None:
        data = await query.body(req, PromptCreate)
        made = await self.store.create(info_of(data), config_of(data),
                                       data.get("commit_message"))
        await req.send_json(200, render_prompt(made))

    async def get(self, req: Request) -> None:
        await req.send_json(200, render_prompt(await self.store.get(req.path_params["id"])))

    async def update(self, req: Request) -> None:
        data = await query.body(req, PromptUpdate)
        changed = await self.store.update(req.path_params["id"], info_of(data),
                                          change_of(data), data.get("commit_message"))
        await req.send_json(200, render_prompt(changed))

    async def delete(self, req: Request) -> None:
        await self.store.delete(req.path_params["id"])
        await req.send_json(200, {})

    async def versions(self, req: Request) -> None:
        items, has_more = await self.store.versions(req.path_params["id"],
                                                    query.page(req, high=200))
        await req.send_json(200, {"object": "list", "data": [render_version(v) for v in items],
                                  "has_more": has_more})

    async def version(self, req: Request) -> None:
        found = await self.store.version(req.path_params["id"], req.path_params["version_id"])
        await req.send_json(200, render_version(found))


def info_of(data: dict[str, Any]) -> dict[str, Any]:
    """The naming fields of a create or update body (the ones that make no version)."""
    return {k: data[k] for k in INFO_FIELDS if k in data}


def config_of(data: dict[str, Any]) -> PromptConfig:
    """Version 1 of a new prompt: from `prompt`, or the deprecated `prompt_config`."""
    _one_spelling(data)
    if data.get("prompt") is not None:
        return configs.from_prompt(data["prompt"])
    if data.get("prompt_config") is not None:
        return configs.from_legacy(data["prompt_config"])
    raise InvalidRequest("Missing required parameter: prompt (messages, and optionally a model "
                         "and model parameters)", param="prompt")


def change_of(data: dict[str, Any]) -> ConfigChange | None:
    """How an update changes the latest config (None: it does not touch the config)."""
    _one_spelling(data)
    prompt, legacy = data.get("prompt"), data.get("prompt_config")
    if prompt is None and legacy is None:
        return None
    return lambda current: configs.patched(current, prompt, legacy)


def _one_spelling(data: dict[str, Any]) -> None:
    if data.get("prompt") is not None and data.get("prompt_config") is not None:
        raise InvalidRequest("Send either prompt or the deprecated prompt_config, not both.",
                             param="prompt_config")


def register(app: Gateway) -> None:
    r = PromptRoutes(app.store.prompts)
    one, versions = "/v2/prompts/{id}", "/v2/prompts/{id}/versions"
    for route in (
        Route("GET", "/v2/prompts", r.list, summary="List prompts, newest first (cursor "
              "pagination, search)", answer=PromptList, tag="prompts", query=(*PAGE, "search")),
        Route("POST", "/v2/prompts", r.create, summary="Create a prompt (its version 1)",
              body=PromptCreate, answer=PromptRecord, tag="prompts"),
        Route("GET", one, r.get, summary="Get a prompt with its latest version",
              answer=PromptRecord, tag="prompts"),
        Route("PATCH", one, r.update, summary="Update a prompt; a changed config makes a "
              "new version", body=PromptUpdate, answer=PromptRecord, tag="prompts"),
        Route("DELETE", one, r.delete, summary="Delete a prompt and all its versions",
              tag="prompts"),
        Route("GET", versions, r.versions, summary="List a prompt's versions, newest first",
              answer=PromptVersionList, tag="prompts", query=PAGE),
        Route("GET", versions + "/{version_id}", r.version, summary="Get one version (by "
              "_id, number or latest)", answer=PromptVersionRecord, tag="prompts"),
    ):
        app.router.add(route)
