"""The chat-completions route: validate, resolve, send, and answer as JSON or as SSE."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from waystation.api.validate import parse_chat_request
from waystation.config.settings import Settings
from waystation.core.call import ChatCall
from waystation.errors import GatewayError, UpstreamError
from waystation.providers.base import Adapter, Target, WireRequest
from waystation.providers.executor import Executor, WireStream
from waystation.providers.registry import Registry
from waystation.server.http import Request
from waystation.transport.sse import DONE, frame

log = logging.getLogger("waystation.chat")

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
JSON_HEADERS = [(b"content-type", b"application/json")]


class ChatHandler:
    def __init__(self, settings: Settings, registry: Registry, executor: Executor) -> None:
        self._settings = settings
        self._registry = registry
        self._executor = executor

    async def __call__(self, req: Request) -> None:
        raw = await req.body(self._settings.max_body_bytes)
        call = parse_chat_request(raw)
        req.log["model"] = call.model
        if call.name is not None:
            req.log["trace_name"] = call.name
        if call.metadata:
            req.log["metadata"] = call.metadata
        target = self._registry.resolve(call.model)
        adapter = self._registry.adapter_for(target)
        wire = adapter.encode(
            call, target, drop_unsupported=self._settings.drop_unsupported_params
        )
        if call.stream:
            await self._stream(req, call, target, adapter, wire)
        else:
            await self._complete(req, target, adapter, wire)

    async def _complete(
        self, req: Request, target: Target, adapter: Adapter, wire: WireRequest
    ) -> None:
        resp = await self._executor.send(wire, target.provider_name)
        if resp.status >= 300:
            raise adapter.map_error(resp.status, resp.headers, resp.body, target)
        data = adapter.decode(resp.body, target)
        req.log["answered_by"] = target.public_model
        await req.send_bytes(200, orjson.dumps(data), JSON_HEADERS, _answer_headers(target))

    async def _stream(
        self, req: Request, call: ChatCall, target: Target, adapter: Adapter, wire: WireRequest
    ) -> None:
        upstream = await self._executor.open(wire, target.provider_name)
        if upstream.status >= 300:
            body = await upstream.read_all()
            raise adapter.map_error(upstream.status, upstream.headers, body, target)
        req.log["answered_by"] = target.public_model
        await req.start(200, SSE_HEADERS, _answer_headers(target))
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(req, upstream, gone))
        try:
            await _pump(req, upstream, adapter, target, call.include_usage)
        except UpstreamError as exc:
            if gone.is_set():
                req.log["error"] = "client_disconnected"
                return
            log.warning("stream from %s failed mid-way: %s", target.public_model, exc.message)
            req.log["error"] = exc.code
            await _send_stream_error(req, exc)
        finally:
            watcher.cancel()
            upstream.close()
        if gone.is_set():
            req.log["error"] = "client_disconnected"


async def _pump(
    req: Request, upstream: WireStream, adapter: Adapter, target: Target, include_usage: bool
) -> None:
    parser = adapter.event_parser()
    decoder = adapter.stream_decoder(target)
    send = req.send
    async for data in upstream.chunks():
        out = [
            frame(chunk)
            for event in parser.feed(data)
            for chunk in decoder.feed(event)
            if include_usage or not _is_usage_only(chunk)
        ]
        if out:
            await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
    tail = [chunk for event in parser.close() for chunk in decoder.feed(event)]
    tail.extend(decoder.close())
    body = [frame(c) for c in tail if include_usage or not _is_usage_only(c)]
    body.append(DONE)
    await send({"type": "http.response.body", "body": b"".join(body), "more_body": False})


def _is_usage_only(chunk: dict[str, object]) -> bool:
    """The trailing usage chunk, which callers get only when they asked for it."""
    return not chunk.get("choices") and "usage" in chunk


async def _send_stream_error(req: Request, exc: GatewayError) -> None:
    with contextlib.suppress(Exception):
        await req.send(
            {"type": "http.response.body", "body": frame(exc.body()), "more_body": False}
        )


async def _watch_disconnect(req: Request, upstream: WireStream, gone: asyncio.Event) -> None:
    """Abort the upstream call as soon as the caller hangs up."""
    while True:
        message = await req.receive()
        if message["type"] == "http.disconnect":
            gone.set()
            upstream.close()
            return


def _answer_headers(target: Target) -> list[tuple[bytes, bytes]]:
    return [(b"x-waystation-model", target.public_model.encode())]
