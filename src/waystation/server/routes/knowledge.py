"""`/v2/knowledge`: knowledge bases, their datasources and chunks, and search (orq API §6.1).

Every `{kid}` accepts a knowledge base's id or its key. The handlers only read the request and
shape the answer; `knowledge.engine` and `knowledge.search` do the work. Creating a datasource
with a `file_id` hands the file to the ingestor (parse, clean, chunk, embed in the background).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from pydantic import TypeAdapter, ValidationError

from waystation.api.knowledge import (
    ChunkCount,
    ChunkDelete,
    ChunkEnabled,
    ChunkIn,
    ChunkListBody,
    ChunkUpdate,
    DatasourceCreate,
    DatasourceUpdate,
    KnowledgeCreate,
    KnowledgeUpdate,
    SearchBody,
)
from waystation.errors import InvalidRequest
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.model import ChunkWhere, Page
from waystation.knowledge.ports import ChunkingOptions
from waystation.knowledge.search import Searcher, plan_search
from waystation.server.http import Request
from waystation.server.routes import query
from waystation.server.routing import Route

if TYPE_CHECKING:
    from waystation.server.app import Gateway

_CHUNKS = TypeAdapter(list[ChunkIn])
MAX_CHUNKS_PER_CALL = 1000


def _page(req: Request, default: int, high: int) -> Page:
    p = query.page(req, default=default, high=high)
    return Page(p.limit, p.starting_after, p.ending_before)


def _listing(items: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": more}


def chunking(body: dict[str, Any]) -> ChunkingOptions:
    options = body.get("chunking_options") or {}
    config = options.get("chunking_configuration") or {}
    cleanup = options.get("chunking_cleanup_options") or {}
    return ChunkingOptions(kind=config.get("type", "default"),
                           max_characters=config.get("chunk_max_characters", 500),
                           overlap=config.get("chunk_overlap", 0),
                           cleanup=frozenset(k for k, on in cleanup.items() if on))


class KnowledgeRoutes:
    def __init__(self, app: Gateway, engine: KnowledgeEngine) -> None:
        self.app = app
        self.engine = engine
        self.searcher = Searcher(engine)

    # -- knowledge bases -------------------------------------------------------------------
    async def list_kbs(self, req: Request) -> None:
        kind = req.query.get("type") or None
        if kind not in (None, "internal", "external"):
            raise InvalidRequest("type must be internal or external.", param="type")
        items, more = await self.engine.list_kbs(_page(req, 25, 300), kind,
                                                 req.query.get("search") or None)
        await req.send_json(200, _listing(items, more))

    async def create_kb(self, req: Request) -> None:
        await req.send_json(201, await self.engine.create_kb(
            await query.body(req, KnowledgeCreate)))

    async def get_kb(self, req: Request) -> None:
        await req.send_json(200, await self.engine.resolve(req.path_params["kid"]))

    async def update_kb(self, req: Request) -> None:
        changes = await query.body(req, KnowledgeUpdate)
        await req.send_json(200, await self.engine.update_kb(req.path_params["kid"], changes))

    async def delete_kb(self, req: Request) -> None:
        await self.engine.delete_kb(req.path_params["kid"])
        await req.send_bytes(204, b"", [])

    async def search(self, req: Request) -> None:
        body = await query.body(req, SearchBody)
        kb = await self.engine.kb_row(req.path_params["kid"])
        plan = plan_search(kb, body, body["query"])
        outcome = await self.searcher.search(kb, plan)
        await req.send_json(200, {"matches": outcome.matches(plan)})

    # -- datasources -----------------------------------------------------------------------
    async def list_datasources(self, req: Request) -> None:
        items, more = await self.engine.list_datasources(
            req.path_params["kid"], _page(req, 50, 50), req.query.get("q") or None,
            req.query.get("status") or None)
        await req.send_json(200, _listing(items, more))

    async def create_datasource(self, req: Request) -> None:
        body = await query.body(req, DatasourceCreate)
        kid = req.path_params["kid"]
        file_id = body.get("file_id")
        name = body.get("display_name") or (f"file {file_id}" if file_id else "datasource")
        made = await self.engine.create_datasource(
            kid, display_name=name, file_id=file_id, metadata=body.get("metadata"),
            description=body.get("description"))
        ingestor = getattr(self.app, "ingestor", None)
        if file_id is not None:
            if ingestor is None:
                await self.engine.set_datasource_status(
                    kid, made["_id"], "failed", reason="this gateway has no file ingestion")
                made = await self.engine.get_datasource(kid, made["_id"])
            else:
                ingestor.schedule(made["knowledge_id"], made["_id"], file_id, chunking(body))
        await req.send_json(201, made)

    async def get_datasource(self, req: Request) -> None:
        p = req.path_params
        await req.send_json(200, await self.engine.get_datasource(p["kid"], p["did"]))

    async def update_datasource(self, req: Request) -> None:
        p = req.path_params
        changes = await query.body(req, DatasourceUpdate)
        await req.send_json(200, await self.engine.update_datasource(p["kid"], p["did"],
                                                                     changes))

    async def delete_datasource(self, req: Request) -> None:
        p = req.path_params
        await self.engine.delete_datasource(p["kid"], p["did"])
        await req.send_bytes(204, b"", [])

    # -- chunks ----------------------------------------------------------------------------
    async def create_chunks(self, req: Request) -> None:
        raw = await req.body(self.app.settings.max_body_bytes)
        try:
            data = orjson.loads(raw or b"null")
        except orjson.JSONDecodeError as error:
            raise InvalidRequest(f"The request body is not valid JSON: {error}") from None
        if not isinstance(data, list) or not data:
            raise InvalidRequest("The request body must be a non-empty array of chunks "
                                 '[{"text": …, "embedding"?: […], "metadata"?: {…}}].')
        if len(data) > MAX_CHUNKS_PER_CALL:
            raise InvalidRequest(f"At most {MAX_CHUNKS_PER_CALL} chunks per call.")
        try:
            items = [c.model_dump(exclude_unset=True) for c in _CHUNKS.validate_python(data)]
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in first["loc"])
            raise InvalidRequest(f"Invalid value for {where}: {first['msg']}",
                                 param=where) from None
        p = req.path_params
        await req.send_json(201, await self.engine.create_chunks(p["kid"], p["did"], items))

    async def list_chunks(self, req: Request) -> None:
        p = req.path_params
        enabled = req.query.get("enabled")
        where = ChunkWhere(q=req.query.get("q") or None, status=req.query.get("status") or None,
                           enabled=None if enabled is None else query.boolean(req, "enabled",
                                                                              True))
        items, more = await self.engine.list_chunks(p["kid"], p["did"], where,
                                                    _page(req, 10, 300))
        await req.send_json(200, _listing(items, more))

    async def list_chunks_paged(self, req: Request) -> None:
        p = req.path_params
        body = await query.body(req, ChunkListBody)
        limit, number = body.get("limit", 100), body.get("page", 1)
        where = ChunkWhere(body.get("q"), body.get("status"), body.get("enabled"))
        items, more = await self.engine.list_chunks(
            p["kid"], p["did"], where, Page(limit=limit, offset=(number - 1) * limit))
        await req.send_json(200, {"object": "list", "data": items, "has_more": more,
                                  "page": number, "limit": limit})

    async def count_chunks(self, req: Request) -> None:
        p = req.path_params
        body = await query.body(req, ChunkCount)
        where = ChunkWhere(body.get("q"), body.get("status"), body.get("enabled"))
        await req.send_json(200, {"count": await self.engine.count_chunks(
            p["kid"], p["did"], where)})

    async def delete_chunks(self, req: Request) -> None:
        p = req.path_params
        body = await query.body(req, ChunkDelete)
        deleted, missing = await self.engine.delete_chunks(p["kid"], p["did"],
                                                           body["chunk_ids"])
        answer: dict[str, Any] = {"deleted_count": len(deleted)}
        if missing:
            answer["failed_ids"] = missing
        await req.send_json(200, answer)

    async def get_chunk(self, req: Request) -> None:
        p = req.path_params
        with_vector = query.boolean(req, "include_vector", False)
        await req.send_json(200, await self.engine.get_chunk(p["kid"], p["did"],
                                                             p["chunk_id"], with_vector))

    async def update_chunk(self, req: Request) -> None:
        p = req.path_params
        changes = await query.body(req, ChunkUpdate)
        await req.send_json(200, await self.engine.update_chunk(p["kid"], p["did"],
                                                                p["chunk_id"], changes))

    async def set_enabled(self, req: Request) -> None:
        p = req.path_params
        body = await query.body(req, ChunkEnabled)
        await req.send_json(200, await self.engine.update_chunk(
            p["kid"], p["did"], p["chunk_id"], {"enabled": body["enabled"]}))

    async def delete_chunk(self, req: Request) -> None:
        p = req.path_params
        deleted, _ = await self.engine.delete_chunks(p["kid"], p["did"], [p["chunk_id"]])
        if not deleted:
            await self.engine.get_chunk(p["kid"], p["did"], p["chunk_id"])  # the 404
        await req.send_bytes(204, b"", [])


def register(app: Gateway) -> None:
    engine = getattr(app, "knowledge", None)
    if engine is None:
        return
    r = KnowledgeRoutes(app, engine)
    base = "/v2/knowledge"
    kb = f"{base}/{{kid}}"
    ds = f"{kb}/datasources/{{did}}"
    chunks = f"{ds}/chunks"
    one = f"{chunks}/{{chunk_id}}"
    tag = "knowledge"
    for method, path, handler, summary, body, status in (
        ("GET", base, r.list_kbs, "List knowledge bases (cursor pagination)", None, 200),
        ("POST", base, r.create_kb, "Create an internal or external knowledge base",
         KnowledgeCreate, 201),
        ("GET", kb, r.get_kb, "Get a knowledge base by id or key", None, 200),
        ("PATCH", kb, r.update_kb, "Update a knowledge base", KnowledgeUpdate, 200),
        ("DELETE", kb, r.delete_kb, "Delete a knowledge base and everything in it", None, 204),
        ("POST", f"{kb}/search", r.search, "Search a knowledge base (vector, keyword or "
         "hybrid; filters, rerank, agentic RAG)", SearchBody, 200),
        ("GET", f"{kb}/datasources", r.list_datasources, "List datasources", None, 200),
        ("POST", f"{kb}/datasources", r.create_datasource, "Create a datasource (a file_id "
         "is ingested in the background)", DatasourceCreate, 201),
        ("GET", ds, r.get_datasource, "Get a datasource", None, 200),
        ("PATCH", ds, r.update_datasource, "Rename a datasource", DatasourceUpdate, 200),
        ("DELETE", ds, r.delete_datasource, "Delete a datasource and its chunks", None, 204),
        ("POST", f"{chunks}/count", r.count_chunks, "Count chunks", ChunkCount, 200),
        ("POST", f"{chunks}/list", r.list_chunks_paged, "List chunks by page number",
         ChunkListBody, 200),
        ("GET", chunks, r.list_chunks, "List chunks (cursor pagination)", None, 200),
        ("POST", chunks, r.create_chunks, "Add chunks (body: an array; embedded with the "
         "knowledge base's model unless an embedding is given)", None, 201),
        ("DELETE", chunks, r.delete_chunks, "Delete chunks by id", ChunkDelete, 200),
        ("PATCH", f"{one}/enabled", r.set_enabled, "Enable or disable a chunk",
         ChunkEnabled, 200),
        ("GET", one, r.get_chunk, "Get a chunk", None, 200),
        ("PATCH", one, r.update_chunk, "Update a chunk's text, embedding or metadata",
         ChunkUpdate, 200),
        ("DELETE", one, r.delete_chunk, "Delete a chunk", None, 204),
    ):
        app.router.add(Route(method, path, handler, summary=summary, body=body, tag=tag,
                             answer_status=status))
