"""A fake OpenAI chat-completions server over real HTTP on 127.0.0.1.

It answers deterministically from the request (echo text, tool calls when tools are offered,
JSON when a json_schema is asked for), streams in the real SSE format, records every request,
and injects faults on demand: error statuses with Retry-After, hangs, connection resets and
streams that die before or after the first chunk. It runs on its own event loop in a thread,
so synchronous SDK clients in tests can use it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Fault:
    """One scripted misbehaviour, used by the next request that matches `model` (or any)."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering (or before the first chunk)
    reset: bool = False  # close the connection without an answer
    die_after_chunks: int | None = None  # stream: cut the connection after N chunks
    chunk_delay: float = 0.0  # stream: seconds between chunks
    model: str | None = None


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for msg in reversed(messages):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def sample_for_schema(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        return {k: sample_for_schema(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample_for_schema(schema.get("items") or {"type": "string"})]
    if kind in ("number", "integer"):
        return 42
    if kind == "boolean":
        return True
    if "enum" in schema:
        return schema["enum"][0]
    return "sample"


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.cancelled_streams = 0
        self.completed_streams = 0
        self.api_key = "sk-fake-upstream"
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._startup())
        self._ready.set()
        self._loop.run_forever()

    async def _startup(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- scripting -------------------------------------------------------------------------
    def add_fault(self, fault: Fault, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(fault)

    def reset(self) -> None:
        self.requests.clear()
        self.faults.clear()
        self.cancelled_streams = 0
        self.completed_streams = 0

    def _take_fault(self, model: str) -> Fault | None:
        for fault in list(self.faults):
            if fault.model is None or fault.model == model:
                self.faults.remove(fault)
                return fault
        return None

    # -- handlers --------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model",
                                         "created": 0, "owned_by": "fake"}]}
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = orjson.loads(raw)
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(
                {"error": {"message": "Incorrect API key provided", "type":
                           "invalid_request_error", "param": None, "code": "invalid_api_key"}},
                status=401,
            )
        fault = self._take_fault(body.get("model", ""))
        if fault and fault.hang:
            await asyncio.sleep(fault.hang)
        if fault and fault.reset:
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if fault and fault.status:
            payload = fault.body if fault.body is not None else {
                "error": {"message": f"injected failure {fault.status}", "type": "server_error",
                          "param": None, "code": None}}
            data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            return web.Response(body=data, status=fault.status, headers=fault.headers,
                                content_type="application/json")
        if body.get("messages") and body["messages"][-1].get("content") == "please fail 400":
            return web.json_response(
                {"error": {"message": "Invalid 'messages': the fake refuses this",
                           "type": "invalid_request_error", "param": "messages",
                           "code": "invalid_value"}}, status=400)
        answer = self.answer(body)
        if body.get("stream"):
            return await self._stream(request, body, answer, fault)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

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
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chunks = self.chunks_for(body, answer)
        try:
            for n, item in enumerate(chunks):
                if fault and fault.die_after_chunks is not None and n >= fault.die_after_chunks:
                    if n:
                        await asyncio.sleep(0.2)  # let the chunks sent so far arrive first
                    assert request.transport is not None
                    request.transport.abort()
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
