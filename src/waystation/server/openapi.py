"""`/openapi.json`: built from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic.json_schema import models_json_schema

import waystation
from waystation.api.chat_request import ChatCompletionRequest
from waystation.api.responses import ChatCompletion, ChatCompletionChunk, ErrorBody, ModelList

if TYPE_CHECKING:
    from waystation.server.app import Gateway

_ERRORS = {
    "400": "Validation error (`param` names the field)",
    "401": "Missing or wrong API key",
    "404": "Unknown model or provider",
    "413": "Request body too large",
    "502": "The provider failed or could not be reached",
    "503": "The provider is unavailable or not configured",
    "504": "The provider did not answer in time",
}


def _error_responses() -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        code: {"description": text, "content": {"application/json": {"schema": ref}}}
        for code, text in _ERRORS.items()
    }


def openapi_document(app: Gateway) -> dict[str, Any]:
    _, schemas = models_json_schema(
        [
            (ChatCompletionRequest, "validation"),
            (ChatCompletion, "serialization"),
            (ChatCompletionChunk, "serialization"),
            (ErrorBody, "serialization"),
            (ModelList, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, Any] = {}
    for path, route in app.routes.items():
        op: dict[str, Any] = {"responses": _error_responses()}
        if route.auth:
            op["security"] = [{"bearer": []}]
        if route.method == "POST":
            op["summary"] = "Create a chat completion (JSON, or SSE when `stream` is true)"
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}
                    }
                },
            }
            op["responses"]["200"] = {
                "description": "The completion, or a stream of chunks ending with `data: [DONE]`",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ChatCompletion"}
                    },
                    "text/event-stream": {
                        "schema": {"$ref": "#/components/schemas/ChatCompletionChunk"}
                    },
                },
            }
        elif path == "/health":
            op["summary"] = "Readiness: 200 once the gateway serves"
            op["responses"] = {"200": {"description": "ready"}, "503": {"description": "starting"}}
        elif path == "/openapi.json":
            op["summary"] = "This document"
            op["responses"] = {"200": {"description": "the OpenAPI document"}}
        else:
            op["summary"] = "List the configured models"
            op["responses"]["200"] = {
                "description": "The models",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}
                },
            }
        paths[path] = {route.method.lower(): op}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waystation", "version": waystation.__version__},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
