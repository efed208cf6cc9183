"""Method + path → handler, with `{name}` path parameters; exact paths are a dict lookup.

Each route also carries what `/openapi.json` says about it, so the document is generated from
the same table that serves requests and cannot drift from it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from waystation.errors import MethodNotAllowed, NotFound

Handler = Callable[[Any], Awaitable[None]]

_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    auth: bool = True
    summary: str = ""
    tag: str = "gateway"
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    answer_status: int = 200
    query: tuple[str, ...] = ()
    extra_doc: dict[str, Any] = field(default_factory=dict)


class RouteTable:
    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Route]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        self.routes: list[Route] = []

    def add(self, route: Route) -> None:
        self.routes.append(route)
        if "{" not in route.path:
            self._exact.setdefault(route.path, {})[route.method] = route
            return
        regex = re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", route.path) + "$")
        for pattern, methods in self._patterns:
            if pattern.pattern == regex.pattern:
                methods[route.method] = route
                return
        self._patterns.append((regex, {route.method: route}))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        methods = self._exact.get(path)
        params: dict[str, str] = {}
        if methods is None:
            for pattern, candidate in self._patterns:
                found = pattern.match(path)
                if found:
                    methods, params = candidate, found.groupdict()
                    break
        if methods is None:
            raise NotFound(f"Unknown path {path}.", code="unknown_url")
        route = methods.get(method)
        if route is None:
            allowed = ", ".join(sorted(methods))
            raise MethodNotAllowed(f"{method} is not allowed on {path} (allowed: {allowed}).")
        return route, params
