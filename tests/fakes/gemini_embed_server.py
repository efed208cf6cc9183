"""A fake Gemini `batchEmbedContents` server over real HTTP on 127.0.0.1.

`POST /v1beta/models/{model}:batchEmbedContents` checks the `x-goog-api-key`, at most 100
requests, each naming the same model as the path and holding one text part; it answers a
deterministic vector per text (`outputDimensionality` honoured). Errors use Google's
`{"error": {code, message, status}}` shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai_server import fake_vector
from tests.fakes.server import FakeServer

API_KEY = "gm-fake-key"
TASK_TYPES = frozenset({"RETRIEVAL_DOCUMENT", "RETRIEVAL_QUERY", "CLASSIFICATION", "CLUSTERING",
                        "SEMANTIC_SIMILARITY", "QUESTION_ANSWERING", "FACT_VERIFICATION",
                        "CODE_RETRIEVAL_QUERY"})


def google_error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": kind}},
                             status=status)


class FakeGeminiEmbed(FakeServer):
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{action}", self._batch)

    def _fault_body(self, status: int) -> Any:
        return {"error": {"code": status, "message": f"injected failure {status}",
                          "status": "UNAVAILABLE" if status >= 500 else "INVALID_ARGUMENT"}}

    async def _batch(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["action"].partition(":")
        body = orjson.loads(await request.read())
        self._record(request, body)
        if request.headers.get("x-goog-api-key") != API_KEY:
            return google_error(400, "API key not valid. Please pass a valid API key.",
                                "INVALID_ARGUMENT")
        if method != "batchEmbedContents":
            return google_error(404, f"method {method} not found", "NOT_FOUND")
        failed = await self._answer_fault(request, self._take_fault(model))
        if failed is not None:
            return failed
        requests = body.get("requests") or []
        if not requests or len(requests) > 100:
            return google_error(400, "between 1 and 100 requests per batch", "INVALID_ARGUMENT")
        out = []
        for item in requests:
            if item.get("model") != f"models/{model}":
                return google_error(400, "each request must name the path's model",
                                    "INVALID_ARGUMENT")
            if "taskType" in item and item["taskType"] not in TASK_TYPES:
                return google_error(400, "invalid taskType", "INVALID_ARGUMENT")
            parts = (item.get("content") or {}).get("parts") or []
            text = " ".join(p.get("text", "") for p in parts)
            out.append({"values": fake_vector(text, int(item.get("outputDimensionality") or 8))})
        return web.json_response({"embeddings": out})
