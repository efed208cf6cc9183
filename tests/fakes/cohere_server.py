"""A fake Cohere v2 chat server over real HTTP on 127.0.0.1.

It checks requests the way the real API does where it matters to a translator (known fields
only, v2 roles and content types, REQUIRED/NONE tool choice, a bearer key), answers
deterministically from the request (echo text, parallel tool calls with a tool plan, JSON for a
schema, thinking when asked, log probabilities when asked), streams the v2 SSE events
(`event: <type>` + `data: <json>`), records every request and injects faults (lifecycle,
recording and faults come from `tests.fakes.server`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai_server import last_user_text
from tests.fakes.server import FakeServer, sample_for_schema

API_KEY = "co-fake-key"
FAIL_MIDWAY = "please fail midway"

V2_FIELDS = frozenset({
    "model", "messages", "tools", "strict_tools", "documents", "citation_options",
    "response_format", "safety_mode", "max_tokens", "stop_sequences", "temperature", "seed",
    "frequency_penalty", "presence_penalty", "k", "p", "logprobs", "tool_choice", "thinking",
    "priority", "stream",
})
CONTENT_TYPES = {"user": {"text", "image_url"}, "assistant": {"text", "thinking"},
                 "system": {"text"}, "tool": {"text", "document"}}


class FakeCohere(FakeServer):
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/chat", self._chat)

    def _fault_body(self, status: int) -> Any:
        return {"message": "injected"}

    # -- handler ---------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self._record(request, body)
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "invalid api token")
        problem = validate(body)
        if problem:
            return _error(400, f"invalid request: {problem}")
        fault = self._take_fault(str(body.get("model", "")))
        failed = await self._answer_fault(request, fault)
        if failed is not None:
            return failed
        text = last_user_text(body["messages"])
        if text == "please fail 400":
            return _error(400, "invalid request: the fake refuses this")
        if text == FAIL_MIDWAY and not body.get("stream"):
            return _error(500, "internal server error, this has been reported to our developers")
        answer = make_answer(body)
        if body.get("stream"):
            return await self._stream(request, answer, failing=text == FAIL_MIDWAY)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def _stream(self, request: web.Request, answer: dict[str, Any],
                      *, failing: bool) -> web.StreamResponse:
        resp = await self._open_stream(request)
        events = stream_events(answer)
        if failing:
            events = [*events[:3], {"type": "message-end", "delta": {
                "error": "internal server error", "finish_reason": "ERROR"}}]
        for event in events:
            await resp.write(f"event: {event['type']}\ndata: ".encode()
                             + orjson.dumps(event) + b"\n\n")
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"id": "err-0001", "message": message}, status=status)


def validate(body: dict[str, Any]) -> str | None:
    """What the real API would refuse, in the terms a translator can get wrong."""
    unknown = set(body) - V2_FIELDS
    if unknown:
        return f"unknown field(s) {sorted(unknown)}"
    for i, msg in enumerate(body.get("messages") or []):
        role = msg.get("role")
        if role not in CONTENT_TYPES:
            return f"messages[{i}]: unknown role {role!r}"
        if role == "tool" and not msg.get("tool_call_id"):
            return f"messages[{i}]: tool_call_id is required"
        content = msg.get("content")
        for part in content if isinstance(content, list) else ():
            if part.get("type") not in CONTENT_TYPES[role]:
                return f"messages[{i}]: content type {part.get('type')!r} not allowed"
    if body.get("tool_choice") not in (None, "REQUIRED", "NONE"):
        return "tool_choice must be REQUIRED or NONE"
    fmt = body.get("response_format")
    if fmt is not None and fmt.get("type") not in ("text", "json_object"):
        return "response_format.type must be text or json_object"
    return None


def make_answer(body: dict[str, Any]) -> dict[str, Any]:
    messages = body["messages"]
    message: dict[str, Any] = {"role": "assistant"}
    content: list[dict[str, Any]] = []
    finish = "COMPLETE"
    tools = body.get("tools") or []
    if (body.get("thinking") or {}).get("type") == "enabled":
        content.append({"type": "thinking", "thinking": "Thinking it over carefully."})
    if messages[-1].get("role") == "tool":
        result = messages[-1]["content"]
        if isinstance(result, list):
            result = " ".join(p.get("text", "") for p in result)
        content.append({"type": "text", "text": f"The tool said: {result}"})
    elif tools and body.get("tool_choice") != "NONE":
        message["tool_plan"] = "I will call the tools."
        message["tool_calls"] = [
            {"id": f"{t['function']['name']}_{i}", "type": "function",
             "function": {"name": t["function"]["name"], "arguments": orjson.dumps(
                 sample_for_schema(t["function"].get("parameters") or {})).decode()}}
            for i, t in enumerate(tools[:2])]
        finish = "TOOL_CALL"
    elif (body.get("response_format") or {}).get("json_schema"):
        sample = sample_for_schema(body["response_format"]["json_schema"])
        content.append({"type": "text", "text": orjson.dumps(sample).decode()})
    else:
        content.append({"type": "text", "text": f"Echo: {last_user_text(messages)}"})
    limit = body.get("max_tokens")
    texts = [c for c in content if c["type"] == "text"]
    if limit is not None and limit < 5 and texts:
        texts[0]["text"] = texts[0]["text"][:limit]
        finish = "MAX_TOKENS"
    message["content"] = content
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages) + 3
    output = sum(len(str(c.get("text") or c.get("thinking")).split()) for c in content) + 1
    answer = {"id": "c0ffee00-0000-4000-8000-000000000001", "finish_reason": finish,
              "message": message,
              "usage": {"billed_units": {"input_tokens": prompt, "output_tokens": output},
                        "tokens": {"input_tokens": prompt + 200, "output_tokens": output + 2},
                        "cached_tokens": 0}}
    if body.get("logprobs"):
        answer["logprobs"] = [
            {"text": piece, "token_ids": [100 + n], "logprobs": [-0.25]}
            for n, piece in enumerate(_pieces(texts[0]["text"] if texts else ""))]
    return answer


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)] if text else []


def stream_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The v2 events a streamed request gets for the same answer."""
    msg = answer["message"]
    events: list[dict[str, Any]] = [{"id": answer["id"], "type": "message-start", "delta": {
        "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
                    "citations": []}}}]
    if msg.get("tool_plan"):
        for piece in _pieces(msg["tool_plan"]):
            events.append({"type": "tool-plan-delta",
                            "delta": {"message": {"tool_plan": piece}}})
    for i, call in enumerate(msg.get("tool_calls") or []):
        start = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        events.append({"type": "tool-call-start", "index": i,
                       "delta": {"message": {"tool_calls": start}}})
        args = call["function"]["arguments"]
        for j in range(0, len(args), 5):
            events.append({"type": "tool-call-delta", "index": i, "delta": {"message": {
                "tool_calls": {"function": {"arguments": args[j:j + 5]}}}}})
        events.append({"type": "tool-call-end", "index": i})
    logprobs = list(answer.get("logprobs") or [])
    for index, item in enumerate(msg.get("content") or []):
        kind = item["type"]
        events.append({"type": "content-start", "index": index, "delta": {
            "message": {"content": {"type": kind, kind: ""}}}})
        for piece in _pieces(item[kind]):
            event: dict[str, Any] = {"type": "content-delta", "index": index,
                                     "delta": {"message": {"content": {kind: piece}}}}
            if kind == "text" and logprobs:
                event["logprobs"] = logprobs.pop(0)
            events.append(event)
        events.append({"type": "content-end", "index": index})
    events.append({"type": "message-end", "delta": {"finish_reason": answer["finish_reason"],
                                                    "usage": answer["usage"]}})
    return events
