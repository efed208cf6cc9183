"""Runs a request's plan: each model in order, each with its retries and per-attempt timeout.

Routing is composition around one attempt: `complete` and `stream` take the same call and give
the same kind of answer whether one attempt was made or ten. A stream counts as answered once
its first chunk has arrived; until then a failure is retried or falls back like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from waystation.clock import Clock
from waystation.config.settings import Settings
from waystation.core.call import ChatCall
from waystation.errors import (
    UpstreamConnectionError,
)
from waystation.observe.trace import Attempt
from waystation.providers.base import (
    Adapter,
    Chunk,
    EventParser,
    StreamDecoder,
    Target,
    WireRequest,
)
from waystation.providers.executor import Executor, WireStream
from waystation.providers.registry import Registry
from waystation.routing.attempts import AttemptRunner, Health

T = TypeVar("T")


@dataclass(slots=True)
class Answer:
    target: Target
    completion: dict[str, Any]


@dataclass(slots=True)
class LiveStream:
    """A provider stream that has produced its first chunks and is still open."""

    target: Target
    upstream: WireStream
    parser: EventParser
    decoder: StreamDecoder
    first: list[Chunk]
    idle_timeout: float | None
    ended: bool = False
    _tail_sent: bool = field(default=False)

    async def next_chunks(self) -> list[Chunk] | None:
        """The next chunks, [] while nothing complete has arrived, None after the last."""
        if self._tail_sent:
            return None
        data = b"" if self.ended else await self.upstream.read_chunk(self.idle_timeout)
        if data:
            return [c for event in self.parser.feed(data) for c in self.decoder.feed(event)]
        self._tail_sent = True
        tail = [c for event in self.parser.close() for c in self.decoder.feed(event)]
        tail.extend(self.decoder.close())
        return tail

    def close(self) -> None:
        self.upstream.close()


Attempt_ = Callable[[Target, Adapter, WireRequest], Awaitable[T]]


class Runner:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        executor: Executor,
        clock: Clock,
        health: Health,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._executor = executor
        self._clock = clock
        self._health = health
        self._attempts: AttemptRunner[Any] = AttemptRunner(settings, clock, health)

    async def complete(self, call: ChatCall, attempts: list[Attempt]) -> Answer:
        async def once(target: Target, adapter: Adapter, wire: WireRequest) -> Answer:
            resp = await self._executor.send(wire, target.provider_name)
            if resp.status >= 300:
                raise adapter.map_error(resp.status, resp.headers, resp.body, target)
            return Answer(target, adapter.decode(resp.body, target))

        return await self._run(call, attempts, once)

    async def stream(self, call: ChatCall, attempts: list[Attempt]) -> LiveStream:
        timeout = call.routing.call_timeout

        async def once(target: Target, adapter: Adapter, wire: WireRequest) -> LiveStream:
            upstream = await self._executor.open(wire, target.provider_name)
            try:
                if upstream.status >= 300:
                    body = await upstream.read_all()
                    raise adapter.map_error(upstream.status, upstream.headers, body, target)
                live = LiveStream(target, upstream, adapter.event_parser(),
                                  adapter.stream_decoder(target), [], timeout)
                while not live.first:
                    chunks = await live.next_chunks()
                    if chunks is None:
                        raise UpstreamConnectionError(
                            f"{target.public_model} ended the stream before its first chunk",
                            provider=target.provider_name,
                        )
                    live.first = chunks
                return live
            except BaseException:
                upstream.close()
                raise

        return await self._run(call, attempts, once)

    async def _run(self, call: ChatCall, attempts: list[Attempt], once: Attempt_[T]) -> T:
        def resolve(model: str, param: str) -> Target:
            return self._registry.resolve(model, param=param)

        def start(target: Target) -> _ChatJob[T]:
            return _ChatJob(self._registry.adapter_for(target), call, target, once,
                            self._settings.drop_unsupported_params)

        _, result = await self._attempts.run(call.model, call.routing, attempts, resolve, start)
        return result


class _ChatJob(Generic[T]):
    """One model's part of a chat request: the wire request, encoded again for each retry
    (a signed request is only valid for a few minutes)."""

    def __init__(
        self, adapter: Adapter, call: ChatCall, target: Target, once: Attempt_[T], drop: bool
    ) -> None:
        self._adapter, self._call, self._target, self._once = adapter, call, target, once
        self._drop = drop
        self._wire: WireRequest | None = self._encode()  # a ClientError here skips the model

    def _encode(self) -> WireRequest:
        return self._adapter.encode(self._call, self._target, drop_unsupported=self._drop)

    def run(self) -> Awaitable[T]:
        wire = self._wire if self._wire is not None else self._encode()
        self._wire = None
        return self._once(self._target, self._adapter, wire)


