"""Retries, fallbacks, load balancing and the per-attempt timeout, for any unit of work.

Chat completions, embeddings and reranking all run through `AttemptRunner`: the plan orders the
models (`routing.plan`), each model gets its retries with backoff (`routing.policy`), and a failure
whose status is in `fallback_on_codes` moves on to the next model. A job is what one model does
for the request: for chat one wire request (encoded again for each retry, since a signed request
expires); for embeddings possibly several batches. A retry on the same model keeps the batches
that already succeeded; a fallback starts the job again from nothing, because vectors from two
models must never be mixed in one answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from waystation.clock import Clock
from waystation.config.settings import Settings
from waystation.errors import (
    AllAttemptsFailed,
    ClientError,
    ProviderNotConfigured,
    UpstreamError,
    UpstreamTimeout,
)
from waystation.observe.trace import Attempt
from waystation.providers.base import Target
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
T_co = TypeVar("T_co", covariant=True)


class Job(Protocol[T_co]):
    def run(self) -> Awaitable[T_co]:
        """One attempt: the work not yet done for this model; raises `UpstreamError`."""


class Health(Protocol):
    def is_cooled(self, model: str) -> bool: ...

    def report(self, model: str, ok: bool) -> None: ...


Resolve = Callable[[str, str], Target]  # (model id, request field naming it) → target


class AttemptRunner(Generic[T]):
    def __init__(self, settings: Settings, clock: Clock, health: Health) -> None:
        self._settings = settings
        self._clock = clock
        self._health = health

    async def run(
        self,
        model: str,
        routing: RoutingOptions,
        attempts: list[Attempt],
        resolve: Resolve,
        start: Callable[[Target], Job[T]],
    ) -> tuple[Target, T]:
        """The first model's answer that succeeds, in plan order; `start` prepares a model's
        job and raises `ClientError` when that model cannot take the request."""
        models = plan_models(model, routing, self._clock.rng, self._health.is_cooled)
        targets = [_resolve(resolve, m, routing) for m in models]
        failures: list[UpstreamError] = []
        waited = 0.0
        for position, (name, target) in enumerate(zip(models, targets, strict=True)):
            try:
                if isinstance(target, UpstreamError):
                    raise target
                try:
                    job = start(target)
                except ClientError as err:
                    if position == 0:
                        raise  # the request does not fit the model it asked for
                    attempts.append(Attempt(name, err.status, 0.0, err.message, err.code))
                    continue  # a fallback that cannot take the request is skipped
                result = await self._with_retries(name, target, job, routing, attempts, waited)
                return target, result
            except _Exhausted as ex:
                failures.append(ex.error)
                waited = ex.waited
                if not should_fall_back(ex.error, routing.fallback_on_codes):
                    break
            except UpstreamError as err:  # not configured: nothing was sent
                attempts.append(_failed(name, err, 0.0))
                failures.append(err)
                if not should_fall_back(err, routing.fallback_on_codes):
                    break
        if not failures:
            raise UpstreamError("No planned model could take this request.", status=400,
                                code="no_model_accepts_request", error_type="invalid_request_error")
        raise _final_error(failures, attempts)

    async def _with_retries(
        self, model: str, target: Target, job: Job[T], routing: RoutingOptions,
        attempts: list[Attempt], waited: float,
    ) -> T:
        policy = routing.retry
        for n in range(policy.count + 1):
            started = self._clock.monotonic()
            try:
                result = await self._timed(job.run(), routing, target)
            except UpstreamError as err:
                attempts.append(_failed(model, err, self._clock.monotonic() - started))
                self._health.report(model, ok=decision_status(err) in _CALLERS_FAULT)
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

    async def _timed(self, work: Awaitable[T], routing: RoutingOptions, target: Target) -> T:
        timeout = routing.call_timeout
        if timeout is None:
            return await work
        try:
            async with asyncio.timeout(timeout):  # runs in this task: no Task per attempt
                return await work
        except TimeoutError:
            raise UpstreamTimeout(
                f"{target.public_model} did not answer within {timeout * 1000:.0f} ms",
                provider=target.provider_name, code="call_timeout",
            ) from None


# Statuses that say the request was wrong, not the model: they do not cool a model down.
_CALLERS_FAULT = frozenset({400, 404, 413, 422})


class _Exhausted(Exception):
    def __init__(self, error: UpstreamError, waited: float) -> None:
        self.error = error
        self.waited = waited


def _resolve(resolve: Resolve, model: str, routing: RoutingOptions) -> Target | UpstreamError:
    """Unknown models are the caller's mistake (raised, naming the field) before anything is
    sent; a provider without credentials is a failed attempt that may fall back."""
    try:
        return resolve(model, _param_for(model, routing))
    except ProviderNotConfigured as err:
        return err


def _param_for(model: str, routing: RoutingOptions) -> str:
    return routing.params.get(model, "model")


def _failed(model: str, err: UpstreamError, seconds: float) -> Attempt:
    return Attempt(model, decision_status(err), seconds * 1000, err.message, err.code)


def _final_error(failures: list[UpstreamError], attempts: list[Attempt]) -> UpstreamError:
    if len(attempts) <= 1 and len(failures) == 1:
        return failures[0]
    telling = max(reversed(failures), key=telling_rank)
    return AllAttemptsFailed(telling, [a.as_dict() for a in attempts])
