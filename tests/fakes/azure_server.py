"""A fake Azure OpenAI resource over real HTTP on 127.0.0.1.

Azure is the OpenAI chat format at `/openai/deployments/{deployment}/chat/completions
?api-version=…`, keyed by an `api-key` header, with content-filter annotations: results on
every answer, an annotation-only first stream frame (empty id and choices), a 400 with
`error.code: content_filter` for a filtered prompt and `finish_reason: content_filter` for a
filtered answer. The answers themselves come from the fake OpenAI server, whose lifecycle,
recording and fault injection this class inherits.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai_server import FakeOpenAI, Fault, last_user_text

API_KEY = "azure-fake-key"
API_VERSION = "2024-10-21"
FILTERED_PROMPT = "please trip the prompt filter"
FILTERED_ANSWER = "please filter the answer"

_SAFE = {"filtered": False, "severity": "safe"}
CONTENT_FILTER_RESULTS = {k: dict(_SAFE) for k in ("hate", "self_harm", "sexual", "violence")}
PROMPT_FILTER_RESULTS = [{"prompt_index": 0, "content_filter_results": CONTENT_FILTER_RESULTS}]


def content_filter_error() -> dict[str, Any]:
    """The body Azure answers (HTTP 400) when the prompt itself is filtered."""
    return {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
            "content management policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    **CONTENT_FILTER_RESULTS,
                    "violence": {"filtered": True, "severity": "medium"},
                },
            },
        }
    }


class FakeAzureOpenAI(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.api_key = API_KEY
        self.deployments = {"gpt4o-prod": "gpt-4o-2024-08-06", "mini": "gpt-4o-mini-2024-07-18"}

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._azure_chat)

    def _fault_body(self, status: int) -> Any:
        return {"error": {"code": str(status), "message": "injected failure"}}

    async def _azure_chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self._record(request, body, request.path_qs)
        refused = self._refusal(request, body)
        if refused is not None:
            return refused
        deployment = request.match_info["deployment"]
        fault = self._take_fault(deployment)
        failed = await self._answer_fault(request, fault)
        if failed is not None:
            return failed
        answer = self.azure_answer(body, deployment)
        if body.get("stream"):
            return await self._azure_stream(request, body, answer, fault)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    def _refusal(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        """Azure's own answers for a wrong key, version, deployment or a filtered prompt."""
        if request.headers.get("api-key") != self.api_key or "Authorization" in request.headers:
            return web.json_response(
                {"error": {"code": "401", "message": "Access denied due to invalid subscription "
                           "key or wrong API endpoint."}}, status=401)
        if request.query.get("api-version") != API_VERSION:
            return web.json_response(
                {"error": {"code": "404", "message": "Resource not found"}}, status=404)
        if request.match_info["deployment"] not in self.deployments:
            return web.json_response(
                {"error": {"code": "DeploymentNotFound", "message": "The API deployment for "
                           "this resource does not exist."}}, status=404)
        if last_user_text(body.get("messages", [])) == FILTERED_PROMPT:
            return web.json_response(content_filter_error(), status=400)
        return None

    def azure_answer(self, body: dict[str, Any], deployment: str) -> dict[str, Any]:
        answer = self.answer(body)
        answer["model"] = self.deployments[deployment]
        answer["prompt_filter_results"] = PROMPT_FILTER_RESULTS
        for choice in answer["choices"]:
            choice["content_filter_results"] = CONTENT_FILTER_RESULTS
            if last_user_text(body.get("messages", [])) == FILTERED_ANSWER:
                choice["message"]["content"] = "Partial"
                choice["finish_reason"] = "content_filter"
        return answer

    async def _azure_stream(self, request: web.Request, body: dict[str, Any],
                            answer: dict[str, Any], fault: Fault | None) -> web.StreamResponse:
        resp = await self._open_stream(request)
        annotation = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                      "prompt_filter_results": PROMPT_FILTER_RESULTS}
        chunks = self.chunks_for(body, answer)
        finish_at = next(i for i, c in enumerate(chunks)
                         if c["choices"] and c["choices"][0]["finish_reason"])
        # the asynchronous filter's annotation: a choice without a delta
        late = {**chunks[0], "choices": [{"index": 0, "finish_reason": None,
                                          "content_filter_offsets": {"check_offset": 0,
                                                                     "start_offset": 0,
                                                                     "end_offset": 10}}]}
        frames = [annotation, *chunks[:finish_at], late, *chunks[finish_at:]]
        for n, frame in enumerate(frames):
            if fault and fault.die_after_chunks is not None and n >= fault.die_after_chunks:
                self._hang_up(request)
                return resp
            for choice in frame.get("choices") or ():
                choice.setdefault("content_filter_results", CONTENT_FILTER_RESULTS)
            await resp.write(b"data: " + orjson.dumps(frame) + b"\n\n")
            await asyncio.sleep(0)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
