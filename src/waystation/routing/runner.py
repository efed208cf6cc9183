"""Runs a request's plan: each model in order, each with its retries and per-attempt timeout.

Routing is composition around one attempt: `complete` and `stream` take the same call and give
the same kind of answer whether one attempt was made or ten. A stream counts as answered once
its first chunk has arrived; until then a failure is retried or falls back like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from waystation.clock import Clock
from waystation.config.settings import Settings
from waystation.core.call import ChatCall
from waystation.errors import (
    AllAttemptsFailed,
    ClientError,
    ProviderNotConfigured,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
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
from waystation.routing.options import RoutingOptions
from waystation.routing.plan import plan_models
from waystation.routing.policy import (
    backoff_seconds,
    decision_status,
    should_fall_back,
    should_retry,
    telling_rank,
)

T = TypeVar("T")


class Health(Protocol):
    def is_cooled(self, model: str) -> bool: ...

    def report(self, model: str, ok: bool) -> None: ...


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
        options = call.routing
        models = plan_models(call.model, options, self._clock.rng, self._health.is_cooled)
        targets = self._resolve_all(models, options)
        failures: list[UpstreamError] = []
        waited = 0.0
        for position, (model, target) in enumerate(zip(models, targets, strict=True)):
            try:
                if isinstance(target, UpstreamError):
                    raise target
                adapter = self._registry.adapter_for(target)
                try:
                    wire = adapter.encode(
                        call, target, drop_unsupported=self._settings.drop_unsupported_params
                    )
                except ClientError as err:
                    if position == 0:
                        raise  # the caller's request does not fit the model it asked for
                    # a fallback that cannot take this request is skipped, not fatal
                    attempts.append(Attempt(model, err.status, 0.0, err.message, err.code))
                    continue
                return await self._with_retries(
                    call, model, target, adapter, wire, once, attempts, waited
                )
            except _Exhausted as ex:
                failures.append(ex.error)
                waited = ex.waited
                if not should_fall_back(ex.error, options.fallback_on_codes):
                    break
            except UpstreamError as err:  # not configured: nothing was sent
                attempts.append(_failed(model, err, 0.0))
                failures.append(err)
                if not should_fall_back(err, options.fallback_on_codes):
                    break
        if not failures:  # every fallback refused the request's parameters
            raise UpstreamError("No planned model could take this request.", status=400,
                                code="no_model_accepts_request", error_type="invalid_request_error")
        raise _final_error(failures, attempts)

    async def _with_retries(
        self,
        call: ChatCall,
        model: str,
        target: Target,
        adapter: Adapter,
        wire: WireRequest,
        once: Attempt_[T],
        attempts: list[Attempt],
        waited: float,
    ) -> T:
        policy = call.routing.retry
        for n in range(policy.count + 1):
            if n:  # encoded again: a signed request is only valid for a few minutes
                wire = adapter.encode(
                    call, target, drop_unsupported=self._settings.drop_unsupported_params
                )
            started = self._clock.monotonic()
            try:
                result = await self._timed(once(target, adapter, wire), call, target)
            except UpstreamError as err:
                attempts.append(_failed(model, err, self._clock.monotonic() - started))
                self._health.report(model, ok=not _counts_against_health(err))
                if n == policy.count or not should_retry(err, policy):
                    raise _Exhausted(err, waited) from err
                delay = backoff_seconds(n, self._clock.rng, err.retry_after)
                if waited + delay > self._settings.retry_max_wait:
                    raise _Exhausted(err, waited) from err
                await self._clock.sleep(delay)
                waited += delay
                continue
            attempts.append(Attempt(model, 200, (self._clock.monotonic() - started) * 1000))
            self._health.report(model, ok=True)
            return result
        raise AssertionError("unreachable")

    async def _timed(self, work: Awaitable[T], call: ChatCall, target: Target) -> T:
        timeout = call.routing.call_timeout
        if timeout is None:
            return await work
        try:
            return await asyncio.wait_for(work, timeout)
        except TimeoutError:
            raise UpstreamTimeout(
                f"{target.public_model} did not answer within {timeout * 1000:.0f} ms",
                provider=target.provider_name,
                code="call_timeout",
            ) from None

    def _resolve_all(
        self, models: list[str], options: RoutingOptions
    ) -> list[Target | UpstreamError]:
        """Unknown models are the caller's mistake (404 naming the field) before anything is
        sent; a provider without credentials is a failed attempt that may fall back."""
        out: list[Target | UpstreamError] = []
        for model in models:
            try:
                out.append(self._registry.resolve(model, param=_param_for(model, options)))
            except ProviderNotConfigured as err:
                out.append(err)
        return out


class _Exhausted(Exception):
    def __init__(self, error: UpstreamError, waited: float) -> None:
        self.error = error
        self.waited = waited


def _failed(model: str, err: UpstreamError, seconds: float) -> Attempt:
    status = decision_status(err)
    return Attempt(model, status, seconds * 1000, err.message, err.code)


def _counts_against_health(err: UpstreamError) -> bool:
    return decision_status(err) not in (400, 404, 413, 422)


def _param_for(model: str, options: RoutingOptions) -> str:
    for i, (m, _) in enumerate(options.balanced):
        if m == model:
            return f"load_balancer.models[{i}].model"
    for i, m in enumerate(options.fallbacks):
        if m == model:
            return f"fallbacks[{i}].model"
    return "model"


def _final_error(failures: list[UpstreamError], attempts: list[Attempt]) -> UpstreamError:
    if len(attempts) <= 1 and len(failures) == 1:
        return failures[0]
    telling = max(reversed(failures), key=telling_rank)
    return AllAttemptsFailed(telling, [a.as_dict() for a in attempts])
