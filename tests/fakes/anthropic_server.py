"""A fake Anthropic Messages API over real HTTP on 127.0.0.1.

It speaks the real wire format (checked with the official `anthropic` SDK in
tests/providers/anthropic/test_anthropic_fake_server.py) and enforces the rules of the real
API that a translation can break: the key (`x-api-key`, or a bearer token as newer SDKs send
it) and the `anthropic-version` header, `max_tokens`
required, unknown top-level fields refused, tool results answering the tool calls of the turn
before and placed first in their turn, a thinking budget below `max_tokens`, and, with thinking
on, a tool-calling assistant turn that opens with its thinking block carrying the signature
this server gave it. Answers are deterministic: thinking when asked, tool calls when tools are
offered, JSON for `output_config.format`, an echo otherwise. Every request is recorded; faults
(error statuses, an `error` event mid-stream, a dropped connection) are injected on demand.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import server
from tests.fakes.server import sample_for_schema

# Anthropic's documented test string that makes a model answer with redacted thinking.
REDACTED_TRIGGER = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING"

KNOWN_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "output_config",
    "service_tier", "cache_control", "container", "inference_geo",
})


@dataclass
class Fault(server.Fault):
    """One scripted misbehaviour for the next request (of `model`, if given)."""

    error_type: str = "api_error"
    message: str = "injected failure"
    stream_error_after: int | None = None  # stream: send an `error` event after N events
    pause_before_error: float = 0.0  # stream: seconds to hold back the error event, so the
    # events before it leave the gateway first and the error is truly mid-stream
    drop_after: int | None = None  # stream: cut the connection after N events


class RequestRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def signature_for(thinking: str) -> str:
    return "sig-" + hashlib.sha256(thinking.encode()).hexdigest()[:24]


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message},
            "request_id": "req_fake"}


class FakeAnthropic(server.FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[dict[str, Any]] = []
        self.api_key = "sk-ant-fake-upstream"
        self._count = 0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    def reset(self) -> None:
        super().reset()
        self.answers.clear()

    # -- handler ---------------------------------------------------------------------------
    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self._record(request, body)
        # the API takes the key as `x-api-key`, or (newer SDKs) as a bearer token
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key not in (request.headers.get("x-api-key"), bearer):
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        fault = self._take_fault(str(body.get("model", "")))
        failed = await self._answer_fault(request, fault)
        if failed is not None:
            return failed
        try:
            check_request(body)
        except RequestRejected as exc:
            return _error(400, "invalid_request_error", exc.message)
        self._count += 1
        message = answer(body, f"msg_fake{self._count:04d}")
        self.answers.append(message)
        if body.get("stream"):
            return await self._stream(request, message, fault)
        return web.Response(body=orjson.dumps(message), content_type="application/json")

    def _fault_response(self, fault: Fault) -> web.Response:
        return _error(fault.status, fault.error_type, fault.message, fault.headers)

    async def _stream(self, request: web.Request, message: dict[str, Any],
                      fault: Fault | None) -> web.StreamResponse:
        resp = await self._open_stream(request)
        for n, event in enumerate(events_for(message)):
            if fault and fault.stream_error_after is not None and n >= fault.stream_error_after:
                await asyncio.sleep(fault.pause_before_error)
                await resp.write(_frame(error_body(fault.error_type, fault.message)))
                break
            if fault and fault.drop_after is not None and n >= fault.drop_after:
                self._hang_up(request)
                return resp
            await resp.write(_frame(event))
        await resp.write_eof()
        return resp


def _frame(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _error(status: int, kind: str, message: str,
           headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(error_body(kind, message)), status=status,
                        headers=headers or {}, content_type="application/json")


# -- the rules of the real API that translations can break ---------------------------------
def check_request(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise RequestRejected(f"{unknown[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("max_tokens"), int):
        raise RequestRejected("max_tokens: Field required")
    if not body.get("messages"):
        raise RequestRejected("messages: at least one message is required")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens", 0)
        if budget < 1024 or budget >= body["max_tokens"]:
            raise RequestRejected("thinking.budget_tokens must be >= 1024 and < max_tokens")
    previous: dict[str, Any] | None = None
    for i, turn in enumerate(body["messages"]):
        if turn.get("role") not in ("user", "assistant"):
            raise RequestRejected(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        _check_tool_results(i, turn, previous)
        previous = turn
    if thinking.get("type") in ("enabled", "adaptive"):
        _check_thinking_turns(body["messages"])


def _blocks(turn: dict[str, Any]) -> list[dict[str, Any]]:
    content = turn.get("content")
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _check_tool_results(i: int, turn: dict[str, Any], previous: dict[str, Any] | None) -> None:
    blocks = _blocks(turn)
    results = [b for b in blocks if b.get("type") == "tool_result"]
    if not results:
        return
    if turn["role"] != "user" or blocks[: len(results)] != results:
        raise RequestRejected(f"messages.{i}: tool_result blocks must come first in a user turn")
    asked = {b.get("id") for b in _blocks(previous or {"content": []})
             if b.get("type") == "tool_use"}
    for block in results:
        if block.get("tool_use_id") not in asked:
            raise RequestRejected(
                f"messages.{i}: unexpected tool_use_id found in tool_result blocks: "
                f"{block.get('tool_use_id')}")


def _check_thinking_turns(turns: list[dict[str, Any]]) -> None:
    for i, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        blocks = _blocks(turn)
        for block in blocks:
            if block.get("type") == "thinking" and \
                    block.get("signature") != signature_for(block.get("thinking", "")):
                raise RequestRejected(f"messages.{i}: Invalid `signature` in `thinking` block")
        if i == len(turns) - 2 and any(b.get("type") == "tool_use" for b in blocks) and \
                blocks[0].get("type") not in ("thinking", "redacted_thinking"):
            raise RequestRejected(
                f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                f"but found `{blocks[0].get('type')}`")


# -- answers --------------------------------------------------------------------------------
def _last_user(body: dict[str, Any]) -> list[dict[str, Any]]:
    for turn in reversed(body["messages"]):
        if turn["role"] == "user":
            return _blocks(turn)
    return []


def _describe(blocks: list[dict[str, Any]]) -> str:
    words = [b["text"] for b in blocks if b.get("type") == "text"]
    for b in blocks:
        if b.get("type") in ("image", "document"):
            source = b.get("source") or {}
            where = source.get("url") or source.get("media_type") or source.get("type")
            words.append(f"[{b['type']}: {where}]")
    return " ".join(words)


def _content(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    last = _last_user(body)
    results = [b for b in last if b.get("type") == "tool_result"]
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    if results:
        said = "; ".join(str(b.get("content")) for b in results)
        return [{"type": "text", "text": f"The tool said: {said}"}], "end_turn"
    if tools and choice.get("type") != "none":
        if choice.get("type") == "tool":
            chosen = [t for t in tools if t["name"] == choice["name"]]
        else:
            count = 1 if choice.get("disable_parallel_tool_use") else min(2, len(tools))
            chosen = tools[:count]
        return [{"type": "tool_use", "id": f"toolu_fake_{i}", "name": t["name"],
                 "input": sample_for_schema(t.get("input_schema") or {})}
                for i, t in enumerate(chosen)], "tool_use"
    fmt = (body.get("output_config") or {}).get("format")
    if fmt:
        text = orjson.dumps(sample_for_schema(fmt["schema"])).decode()
        return [{"type": "text", "text": text}], "end_turn"
    return [{"type": "text", "text": f"Echo: {_describe(last)}"}], "end_turn"


def _limit(content: list[dict[str, Any]], body: dict[str, Any],
           stop: str) -> tuple[str, str | None]:
    text_blocks = [b for b in content if b["type"] == "text"]
    if not text_blocks:
        return stop, None
    block = text_blocks[-1]
    for seq in body.get("stop_sequences") or ():
        if seq in block["text"]:
            block["text"] = block["text"].split(seq, 1)[0]
            return "stop_sequence", seq
    if body["max_tokens"] < 5:
        block["text"] = block["text"][: body["max_tokens"]]
        return "max_tokens", None
    return stop, None


def _has_cache_control(value: Any) -> bool:
    if isinstance(value, dict):
        return "cache_control" in value or any(_has_cache_control(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_cache_control(v) for v in value)
    return False


def answer(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    content, stop = _content(body)
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    if thinking:
        said = _describe(_last_user(body)) or "the tool result"
        if REDACTED_TRIGGER in said:
            content.insert(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy-redacted"})
        else:
            text = f"The user asked about {said}. I should answer."
            content.insert(0, {"type": "thinking", "thinking": text,
                               "signature": signature_for(text)})
    stop, sequence = _limit(content, body, stop)
    words = sum(len(str(t.get("content", "")).split()) for t in body["messages"])
    cached = _has_cache_control(body)
    output = sum(len(orjson.dumps(b)) // 8 for b in content) + 1
    return {
        "id": message_id, "type": "message", "role": "assistant", "model": body["model"],
        "content": content, "stop_reason": stop, "stop_sequence": sequence,
        "usage": {"input_tokens": words + 3,
                  "cache_creation_input_tokens": 16 if cached else 0,
                  "cache_read_input_tokens": 128 if cached else 0,
                  "output_tokens": output},
    }


# -- the event stream -----------------------------------------------------------------------
def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    out: list[dict[str, Any]] = []
    if kind == "text":
        out.append({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}})
        out += [{"type": "content_block_delta", "index": index,
                 "delta": {"type": "text_delta", "text": p}} for p in _pieces(block["text"], 6)]
    elif kind == "thinking":
        out.append({"type": "content_block_start", "index": index,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
        out += [{"type": "content_block_delta", "index": index,
                 "delta": {"type": "thinking_delta", "thinking": p}}
                for p in _pieces(block["thinking"], 12)]
        out.append({"type": "content_block_delta", "index": index,
                    "delta": {"type": "signature_delta", "signature": block["signature"]}})
    elif kind == "redacted_thinking":
        out.append({"type": "content_block_start", "index": index, "content_block": block})
    else:  # tool_use: input arrives as JSON fragments, the first one empty as in the real API
        out.append({"type": "content_block_start", "index": index,
                    "content_block": {**block, "input": {}}})
        args = orjson.dumps(block["input"]).decode()
        out += [{"type": "content_block_delta", "index": index,
                 "delta": {"type": "input_json_delta", "partial_json": p}}
                for p in ["", *_pieces(args, 7)]]
    out.append({"type": "content_block_stop", "index": index})
    return out


def events_for(message: dict[str, Any]) -> list[dict[str, Any]]:
    usage = dict(message["usage"])
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 1}}
    out: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for index, block in enumerate(message["content"]):
        out += _block_events(index, block)
    out.append({"type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"],
                          "stop_sequence": message["stop_sequence"]},
                "usage": {"output_tokens": usage["output_tokens"]}})
    out.append({"type": "message_stop"})
    return out
