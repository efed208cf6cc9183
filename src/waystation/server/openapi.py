"""`/openapi.json`: generated from the route table and the pydantic models that validate.

It is built from the same `Router` that serves requests, so every endpoint is in it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import waystation
from waystation.api.responses import ChatCompletionChunk, ErrorBody
from waystation.server.routing import Route

if TYPE_CHECKING:
    from waystation.server.app import Gateway

_ERRORS = {
    "400": "Validation error (`param` names the field)",
    "401": "Missing or wrong API key",
    "404": "Unknown model, provider, path or entity",
    "413": "Request body too large",
    "429": "Rate limited",
    "502": "The provider failed or could not be reached",
    "503": "The provider is unavailable or not configured",
    "504": "The provider did not answer in time",
}
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": route.summary, "tags": [route.tag]}
    if route.auth:
        op["security"] = [{"bearer": []}]
        error_ref = {"$ref": "#/components/schemas/ErrorBody"}
        op["responses"] = {
            code: {"description": text, "content": {"application/json": {"schema": error_ref}}}
            for code, text in _ERRORS.items()
        }
    else:
        op["responses"] = {}
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in _PARAM.findall(route.path)]
    params += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
               for n in route.query]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(route.body)}}}
    ok: dict[str, Any] = {"description": "Success"}
    if route.answer is not None:
        ok["content"] = {"application/json": {"schema": _ref(route.answer)}}
        if route.tag == "chat":
            ok["content"]["text/event-stream"] = {"schema": _ref(ChatCompletionChunk)}
            ok["description"] = "The completion, or chunks ending with `data: [DONE]`"
    op["responses"][str(route.answer_status)] = ok
    op.update(route.extra_doc)
    return op


def openapi_document(app: Gateway) -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody,
                                           "ChatCompletionChunk": ChatCompletionChunk}
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes:
        for model in (route.body, route.answer):
            if model is not None:
                models[model.__name__] = model
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    _, schemas = models_json_schema(
        [(m, "validation") for m in models.values()],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waystation", "version": waystation.__version__},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
