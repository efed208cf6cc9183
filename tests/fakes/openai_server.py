"""A fake OpenAI chat-completions server over real HTTP on 127.0.0.1.

It answers deterministically from the request (echo text, tool calls when tools are offered,
JSON when a json_schema is asked for), streams in the real SSE format, records every request,
and injects faults on demand: error statuses with Retry-After, hangs, connection resets and
streams that die before or after the first chunk. It runs on its own event loop in a thread,
so synchronous SDK clients in tests can use it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import struct
import time
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.server import FakeServer, Fault, Recorded, sample_for_schema

__all__ = ["FakeOpenAI", "Fault", "Recorded", "last_user_text", "sample_for_schema"]


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for msg in reversed(messages):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


FAKE_DIMENSIONS = 8


def fake_vector(text: str, dims: int = FAKE_DIMENSIONS) -> list[float]:
    """A deterministic unit vector for a text (from its SHA-256), so answers can be checked."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % len(seed)] + i * 7) % 256) / 255.0 - 0.5 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


class FakeOpenAI(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.cancelled_streams = 0
        self.completed_streams = 0
        self.api_key = "sk-fake-upstream"

    @property
    def base_url(self) -> str:
        return f"{self.endpoint}/v1"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)

    def reset(self) -> None:
        super().reset()
        self.cancelled_streams = 0
        self.completed_streams = 0

    # -- handlers --------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model",
                                         "created": 0, "owned_by": "fake"}]}
        )

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        """OpenAI embeddings: a deterministic vector per input (`fake_vector`), `dimensions`
        honoured, float or base64 as asked, token arrays taken, faults as for chat."""
        body = orjson.loads(await request.read())
        self._record(request, body)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _wrong_key()
        failed = await self._answer_fault(request, self._take_fault(body.get("model", "")))
        if failed is not None:
            return failed
        raw = body.get("input")
        items = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw
        dims = int(body.get("dimensions") or FAKE_DIMENSIONS)
        data = []
        for i, item in enumerate(items):
            text = item if isinstance(item, str) else " ".join(str(t) for t in item)
            vec: Any = fake_vector(text, dims)
            if body.get("encoding_format") == "base64":
                vec = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vec})
        tokens = sum(len(str(i).split()) for i in items)
        return web.json_response({"object": "list", "data": data, "model": body.get("model"),
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = orjson.loads(raw)
        self._record(request, body)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _wrong_key()
        fault = self._take_fault(body.get("model", ""))
        failed = await self._answer_fault(request, fault)
        if failed is not None:
            return failed
        if body.get("messages") and body["messages"][-1].get("content") == "please fail 400":
            return web.json_response(
                {"error": {"message": "Invalid 'messages': the fake refuses this",
                           "type": "invalid_request_error", "param": "messages",
                           "code": "invalid_value"}}, status=400)
        answer = self.answer(body)
        if body.get("stream"):
            return await self._stream(request, body, answer, fault)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    def _fault_body(self, status: int) -> Any:
        return {"error": {"message": f"injected failure {status}", "type": "server_error",
                          "param": None, "code": None}}

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        tools = body.get("tools") or []
        fmt = body.get("response_format") or {}
        if messages and messages[-1].get("role") == "tool":
            message["content"] = f"The tool said: {messages[-1].get('content')}"
        elif tools and body.get("tool_choice") != "none":
            count = 1 if body.get("parallel_tool_calls") is False else min(2, len(tools))
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": tools[i]["function"]["name"],
                              "arguments": orjson.dumps(sample_for_schema(
                                  tools[i]["function"].get("parameters") or {})).decode()}}
                for i in range(count)
            ]
            finish = "tool_calls"
        elif fmt.get("type") == "json_schema":
            schema = fmt["json_schema"].get("schema") or {}
            message["content"] = orjson.dumps(sample_for_schema(schema)).decode()
        else:
            message["content"] = f"Echo: {last_user_text(messages)}"
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if max_tokens is not None and max_tokens < 5 and message["content"]:
            message["content"] = message["content"][:max_tokens]
            finish = "length"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages) + 3
        completion_tokens = len(str(message.get("content") or "").split()) + 1
        return {
            "id": "chatcmpl-fake123",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0},
            },
        }

    def chunks_for(self, body: dict[str, Any], answer: dict[str, Any]) -> list[dict[str, Any]]:
        base = {"id": answer["id"], "object": "chat.completion.chunk",
                "created": answer["created"], "model": answer["model"],
                "system_fingerprint": "fp_fake"}
        msg = answer["choices"][0]["message"]

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                         "finish_reason": finish}]}

        out = [chunk({"role": "assistant", "content": "", "refusal": None})]
        if msg.get("content"):
            words = msg["content"].split(" ")
            for i, word in enumerate(words):
                out.append(chunk({"content": word if i == 0 else " " + word}))
        for i, call in enumerate(msg.get("tool_calls") or []):
            out.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                              "function": {"name": call["function"]["name"],
                                                           "arguments": ""}}]}))
            args = call["function"]["arguments"]
            for j in range(0, len(args), 5):
                out.append(chunk({"tool_calls": [{"index": i,
                                                  "function": {"arguments": args[j:j + 5]}}]}))
        out.append(chunk({}, answer["choices"][0]["finish_reason"]))
        if (body.get("stream_options") or {}).get("include_usage"):
            out.append({**base, "choices": [], "usage": answer["usage"]})
        return out

    async def _stream(self, request: web.Request, body: dict[str, Any],
                      answer: dict[str, Any], fault: Fault | None) -> web.StreamResponse:
        resp = await self._open_stream(request)
        chunks = self.chunks_for(body, answer)
        try:
            for n, item in enumerate(chunks):
                if fault and fault.die_after_chunks is not None and n >= fault.die_after_chunks:
                    if n:
                        await asyncio.sleep(0.2)  # let the chunks sent so far arrive first
                    self._hang_up(request)
                    return resp
                await resp.write(b"data: " + orjson.dumps(item) + b"\n\n")
                if fault and fault.chunk_delay:
                    await asyncio.sleep(fault.chunk_delay)
                    if request.transport is None or request.transport.is_closing():
                        raise ConnectionResetError
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            self.completed_streams += 1
        except ConnectionError:
            self.cancelled_streams += 1
        except asyncio.CancelledError:
            self.cancelled_streams += 1
            raise
        return resp


def _wrong_key() -> web.Response:
    return web.json_response(
        {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                   "param": None, "code": "invalid_api_key"}},
        status=401,
    )
