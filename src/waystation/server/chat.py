"""The chat-completions route: validate, prepare, consult the cache, route, answer as JSON or
as SSE, and leave a trace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson

from waystation.api.validate import parse_chat_request
from waystation.cache import CACHE_HEADER, CoalescingCache, cache_key, hit_completion
from waystation.cache import replay_chunks as replay
from waystation.clock import Clock
from waystation.config.settings import Settings
from waystation.core.accumulate import StreamAccumulator
from waystation.core.call import ChatCall
from waystation.errors import GatewayError, UpstreamError
from waystation.observe.trace import Recorder, Trace
from waystation.prompts.stored import PromptResolver
from waystation.routing.runner import LiveStream, Runner
from waystation.server.http import Request
from waystation.server.prepare import Preparer, Retrieval, seal
from waystation.transport.sse import DONE, frame

log = logging.getLogger("waystation.chat")

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
JSON_HEADERS = [(b"content-type", b"application/json")]
Headers = list[tuple[bytes, bytes]]


class ChatHandler:
    def __init__(
        self,
        settings: Settings,
        runner: Runner,
        clock: Clock,
        recorder: Recorder,
        cache: CoalescingCache,
        prompts: PromptResolver | None = None,
        knowledge: Retrieval | None = None,
    ) -> None:
        self._settings = settings
        self._runner = runner
        self._clock = clock
        self._cache = cache
        self.recorder = recorder
        self._preparer = Preparer(prompts, knowledge)

    async def __call__(self, req: Request) -> None:
        started = self._clock.monotonic()
        trace = Trace(id=req.request_id, created=self._clock.now(), key_id=req.log.get("key"))
        call: ChatCall | None = None
        try:
            raw = await req.body(self._settings.max_body_bytes)
            call = parse_chat_request(raw)
            _describe(trace, req, call)
            await self._preparer.prepare(call, trace)
            if call.cache_ttl is None:
                await self._answer(req, call, trace, started, [])
            else:
                await self._answer_cached(req, call, trace, started)
        except GatewayError as exc:
            trace.error = exc.body()
            trace.status = exc.status
            raise
        finally:
            if trace.attempts:
                req.log["attempts"] = len(trace.attempts)
            trace.latency_ms = (self._clock.monotonic() - started) * 1000
            trace.status = trace.status or req.status
            seal(trace, call)
            self.recorder.record(trace)

    async def _answer(
        self, req: Request, call: ChatCall, trace: Trace, started: float, extra: Headers
    ) -> dict[str, Any] | None:
        """Answer from the providers; returns the completion when it is whole and delivered."""
        if call.stream:
            return await self._stream(req, call, trace, started, extra)
        return await self._complete(req, call, trace, extra)

    async def _answer_cached(
        self, req: Request, call: ChatCall, trace: Trace, started: float
    ) -> None:
        assert call.cache_ttl is not None
        key = cache_key(trace.key_id or "anonymous", call.model_set(), call.body)
        async with self._cache.claim(key) as claim:
            trace.cache_hit = claim.hit
            req.log["cache"] = "HIT" if claim.hit else "MISS"
            if claim.hit:
                assert claim.value is not None
                await self._serve_hit(req, call, trace, hit_completion(claim.value), started)
                return
            if call.stream and not call.include_usage:
                # the stored answer must carry usage; the caller still gets no usage chunk
                call.body["stream_options"] = {**(call.body.get("stream_options") or {}),
                                               "include_usage": True}
            completion = await self._answer(req, call, trace, started, [(CACHE_HEADER, b"MISS")])
            if completion is not None:
                await claim.store(completion, call.cache_ttl)

    async def _serve_hit(
        self, req: Request, call: ChatCall, trace: Trace, completion: dict[str, Any],
        started: float,
    ) -> None:
        req.log["answered_by"] = trace.model = completion.get("model")
        trace.usage = completion.get("usage")
        trace.response = completion
        headers = [(CACHE_HEADER, b"HIT"), (b"x-waystation-model",
                                            str(completion.get("model")).encode())]
        if not call.stream:
            trace.response_json = body = orjson.dumps(completion)
            await req.send_bytes(200, body, JSON_HEADERS, headers)
            return
        body = b"".join(frame(c) for c in replay(completion, include_usage=call.include_usage))
        await req.start(200, SSE_HEADERS, headers)
        trace.ttft_ms = (self._clock.monotonic() - started) * 1000
        await req.send({"type": "http.response.body", "body": body + DONE, "more_body": False})

    async def _complete(
        self, req: Request, call: ChatCall, trace: Trace, extra: Headers
    ) -> dict[str, Any]:
        answer = await self._runner.complete(call, trace.attempts)
        req.log["answered_by"] = trace.model = answer.target.public_model
        trace.usage = answer.completion.get("usage")
        trace.response = answer.completion
        trace.response_json = body = orjson.dumps(answer.completion)
        await req.send_bytes(200, body, JSON_HEADERS,
                             _answer_headers(answer.target.public_model, trace) + extra)
        return answer.completion

    async def _stream(
        self, req: Request, call: ChatCall, trace: Trace, started: float, extra: Headers
    ) -> dict[str, Any] | None:
        live = await self._runner.stream(call, trace.attempts)
        req.log["answered_by"] = trace.model = live.target.public_model
        acc = StreamAccumulator()
        gone = asyncio.Event()
        whole = False
        try:
            await req.start(200, SSE_HEADERS,
                            _answer_headers(live.target.public_model, trace) + extra)
            trace.ttft_ms = (self._clock.monotonic() - started) * 1000
            watcher = asyncio.create_task(_watch_disconnect(req, live, gone))
            try:
                await _pump(req, live, acc, call.include_usage)
                whole = not gone.is_set()
            finally:
                watcher.cancel()
        except UpstreamError as exc:
            if not gone.is_set():
                log.warning("stream from %s failed mid-way: %s", trace.model, exc.message)
                req.log["error"] = exc.code
                trace.error = exc.body()
                await _send_stream_error(req, exc)
        finally:
            live.close()
            if gone.is_set():
                req.log["error"] = "client_disconnected"
                trace.extra["client_disconnected"] = True
            trace.response = acc.result() if acc.chunks else None
            trace.usage = acc.usage
        return trace.response if whole else None


def _describe(trace: Trace, req: Request, call: ChatCall) -> None:
    req.log["model"] = trace.requested_model = call.model
    trace.stream = call.stream
    trace.name = call.name
    trace.metadata = call.metadata
    trace.thread = call.thread
    trace.contact = call.contact
    trace.contact_external_id = (
        call.contact["id"] if call.contact
        else req.headers.get("x-orq-identity-id") or req.headers.get("x-orq-contact-id")
    )
    if call.name is not None:
        req.log["trace_name"] = call.name
    if call.metadata:
        req.log["metadata"] = call.metadata


async def _pump(
    req: Request, live: LiveStream, acc: StreamAccumulator, include_usage: bool
) -> None:
    send = req.send
    chunks: list[dict[str, Any]] | None = live.first
    while chunks is not None:
        out = []
        for chunk in chunks:
            acc.add(chunk)
            if include_usage or not _is_usage_only(chunk):
                out.append(frame(chunk))
        if out:
            await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
        chunks = await live.next_chunks()
    await send({"type": "http.response.body", "body": DONE, "more_body": False})


def _is_usage_only(chunk: dict[str, object]) -> bool:
    """The trailing usage chunk, which callers get only when they asked for it."""
    return not chunk.get("choices") and "usage" in chunk


async def _send_stream_error(req: Request, exc: GatewayError) -> None:
    with contextlib.suppress(Exception):
        await req.send(
            {"type": "http.response.body", "body": frame(exc.body()), "more_body": False}
        )


async def _watch_disconnect(req: Request, live: LiveStream, gone: asyncio.Event) -> None:
    """Abort the upstream call as soon as the caller hangs up."""
    while True:
        message = await req.receive()
        if message["type"] == "http.disconnect":
            gone.set()
            live.close()
            return


def _answer_headers(model: str, trace: Trace) -> Headers:
    return [
        (b"x-waystation-model", model.encode()),
        (b"x-waystation-attempts", str(len(trace.attempts)).encode()),
    ]
