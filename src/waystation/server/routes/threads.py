"""`/v2/threads`: requests grouped by `orq.thread.id`, with tags, first/last seen and totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from waystation.api.management import ThreadDetail, ThreadList
from waystation.server.http import Request
from waystation.server.routes import query
from waystation.server.routing import Route
from waystation.store.threads import ThreadQueries

if TYPE_CHECKING:
    from waystation.server.app import Gateway


@dataclass(frozen=True, slots=True)
class ThreadRoutes:
    threads: ThreadQueries

    async def list(self, req: Request) -> None:
        since, until = query.window(req, default_days=None)
        items, has_more = await self.threads.list(query.page(req, high=100), since=since,
                                                  until=until)
        await req.send_json(200, {"object": "list", "data": items, "has_more": has_more})

    async def get(self, req: Request) -> None:
        thread = await self.threads.get(req.path_params["id"],
                                        query.page(req, default=100, high=1000))
        await req.send_json(200, thread)


def register(app: Gateway) -> None:
    r = ThreadRoutes(app.store.threads)
    app.router.add(Route("GET", "/v2/threads", r.list, answer=ThreadList, tag="threads",
                         summary="List threads, most recently started first",
                         query=("limit", "starting_after", "ending_before", "from", "to")))
    app.router.add(Route("GET", "/v2/threads/{id}", r.get, answer=ThreadDetail, tag="threads",
                         summary="A thread with its requests in order (page with limit and "
                         "starting_after)", query=("limit", "starting_after")))
