"""`orq.prompt {id, version: "latest"}` in a chat request: the stored prompt, merged in.

The latest version's messages go before the request's own; its model, when it has one,
replaces the request's `model` (orq's rule); its parameters are defaults under the request's
own, so a parameter the request sets (even to `null`) wins. This runs before variables are
substituted, so `{{name}}` placeholders in the prompt's messages are filled too, and before the
cache and knowledge retrieval, which therefore see the final messages.

An unknown id is a 404 naming `orq.prompt.id`: running the request without the prompt would
answer a question the caller did not ask.

The chat route must not wait on the database for every request, so resolved versions are
kept in memory for `ttl` seconds (`WAYSTATION_PROMPT_CACHE_SECONDS`, default 5), unknown ids
too. A miss is looked up once however many requests wait for it. A change made through this
process is seen at once (the store tells the cache); one made through another replica or
worker, within the TTL. While the database cannot answer, a version already seen keeps being
served past its TTL; a prompt never seen is a 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from waystation.api.validate import validate_resolved
from waystation.clock import Clock
from waystation.core.call import ChatCall
from waystation.errors import InvalidRequest, NotFound, UnsupportedFeature
from waystation.observe.trace import Trace
from waystation.store.database import StoreUnavailable
from waystation.store.prompts import PromptVersion

log = logging.getLogger("waystation.prompts")

LOOKUP_TIMEOUT = 5.0  # seconds a request waits for the database to resolve a prompt
MAX_ENTRIES = 10_000  # bounds the cache, unknown ids included


class PromptSource(Protocol):
    on_change: list[Callable[[str], None]]

    async def latest(self, prompt_id: str) -> PromptVersion | None: ...


@dataclass(frozen=True, slots=True)
class ResolvedPrompt:
    """A version ready to merge; its messages and parameters are kept encoded and decoded
    per request, so nothing a request does to its copy can reach another request."""

    prompt_id: str
    version: int
    model: str | None
    encoded_messages: bytes
    encoded_parameters: bytes

    @classmethod
    def of(cls, version: PromptVersion) -> ResolvedPrompt:
        config = version.config
        return cls(version.prompt_id, version.number, config.model,
                   orjson.dumps(config.messages), orjson.dumps(config.parameters))

    def messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = orjson.loads(self.encoded_messages)
        return found

    def parameters(self) -> dict[str, Any]:
        found: dict[str, Any] = orjson.loads(self.encoded_parameters)
        return found


@dataclass(frozen=True, slots=True)
class _Entry:
    value: ResolvedPrompt | None  # None: no such prompt
    expires: float


class PromptResolver:
    def __init__(self, source: PromptSource, clock: Clock, ttl: float = 5.0) -> None:
        self._source = source
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[str, _Entry] = {}
        self._pending: dict[str, asyncio.Task[ResolvedPrompt | None]] = {}
        self._generation = 0
        source.on_change.append(self.forget)

    async def latest(self, prompt_id: str) -> ResolvedPrompt:
        """The prompt's latest version; `NotFound` when there is no such prompt."""
        entry = self._entries.get(prompt_id)
        if entry is not None and entry.expires > self._clock.monotonic():
            found = entry.value
        else:
            found = await self._refresh(prompt_id, entry)
        if found is None:
            raise NotFound(
                f"No prompt with id {prompt_id!r} (orq.prompt.id); create it with "
                "POST /v2/prompts or remove orq.prompt from the request.",
                param="orq.prompt.id", code="prompt_not_found")
        return found

    def forget(self, prompt_id: str) -> None:
        """Drop what is known of a prompt (it was changed or deleted)."""
        self._entries.pop(prompt_id, None)
        self._pending.pop(prompt_id, None)
        self._generation += 1

    async def _refresh(self, prompt_id: str, stale: _Entry | None) -> ResolvedPrompt | None:
        task = self._pending.get(prompt_id)
        if task is None:
            task = asyncio.ensure_future(self._fetch(prompt_id, self._generation))
            self._pending[prompt_id] = task
            task.add_done_callback(lambda done: self._settled(prompt_id, done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), LOOKUP_TIMEOUT)
        except (StoreUnavailable, TimeoutError) as error:
            if stale is None:
                if isinstance(error, StoreUnavailable):
                    raise
                raise StoreUnavailable("The database did not answer in time to resolve "
                                       "orq.prompt; try again shortly.") from None
            log.warning("serving prompt %s as last seen: the database is not answering",
                        prompt_id)
            return stale.value

    async def _fetch(self, prompt_id: str, generation: int) -> ResolvedPrompt | None:
        version = await self._source.latest(prompt_id)
        found = ResolvedPrompt.of(version) if version is not None else None
        if generation == self._generation:  # not changed meanwhile through this process
            if len(self._entries) >= MAX_ENTRIES:
                self._evict()
            self._entries[prompt_id] = _Entry(found, self._clock.monotonic() + self._ttl)
        return found

    def _settled(self, prompt_id: str, task: asyncio.Task[ResolvedPrompt | None]) -> None:
        if self._pending.get(prompt_id) is task:
            del self._pending[prompt_id]
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody waited for is not logged twice

    def _evict(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, e in self._entries.items() if e.expires <= now]:
            del self._entries[key]
        while len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]


async def apply_prompt(call: ChatCall, trace: Trace, resolver: PromptResolver | None) -> None:
    """Merge the stored prompt `call.prompt_id` names into the call (see the module text)."""
    assert call.prompt_id is not None
    if resolver is None:
        raise UnsupportedFeature("This gateway has no prompt store; remove orq.prompt.",
                                 param="orq.prompt")
    prompt = await resolver.latest(call.prompt_id)
    trace.extra["prompt"] = {"id": prompt.prompt_id, "version": prompt.version}
    body = call.body
    body["messages"] = prompt.messages() + list(body.get("messages") or ())
    if prompt.model:
        call.model = body["model"] = trace.requested_model = prompt.model
    for name, value in prompt.parameters().items():
        body.setdefault(name, value)
    _check(call, prompt.prompt_id)


def _check(call: ChatCall, prompt_id: str) -> None:
    """The request as resolved obeys the rules a request as sent would: parameters together
    (a request's `top_logprobs` may rely on the prompt's `logprobs`), a model, messages."""
    params = {k: v for k, v in call.body.items() if k != "messages"}
    validate_resolved({**params, "messages": []})
    if not call.body["messages"]:
        raise InvalidRequest(f"messages must hold at least one message; neither the request "
                             f"nor prompt {prompt_id!r} has any.", param="messages")
    if not call.model and not call.routing.balanced:
        raise InvalidRequest(f"model is required: neither the request nor prompt {prompt_id!r} "
                             "names one.", param="model")
