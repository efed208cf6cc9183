"""`orq.prompt` merged into a request by the preparer: order, model, defaults, variables, the
404, and the in-process cache of resolved versions (on a fake clock, with a counting store)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from waystation.api.validate import parse_chat_request
from waystation.clock import Clock
from waystation.core.call import ChatCall
from waystation.errors import InvalidRequest, NotFound
from waystation.observe.trace import Trace
from waystation.prompts.stored import PromptResolver
from waystation.server.prepare import Preparer
from waystation.store.database import StoreUnavailable
from waystation.store.prompts import PromptConfig, PromptVersion

PROMPT = [{"role": "system", "content": "You help {{customer}} with {{topic}}."},
          {"role": "assistant", "content": "Hello, {{customer}}."}]


class FakeClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t


class FakePrompts:
    """A prompt store in memory that counts lookups and can fail or hold them."""

    def __init__(self) -> None:
        self.on_change: list[Callable[[str], None]] = []
        self.versions: dict[str, PromptVersion] = {}
        self.lookups = 0
        self.down = False
        self.gate: asyncio.Event | None = None

    def put(self, prompt_id: str, number: int, model: str | None = "openai/gpt-4o",
            messages: list[dict[str, Any]] = PROMPT, **parameters: Any) -> None:
        config = PromptConfig(messages, model, parameters)
        self.versions[prompt_id] = PromptVersion(f"v{number}", prompt_id, number, config,
                                                 None, 0.0)

    async def latest(self, prompt_id: str) -> PromptVersion | None:
        self.lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise StoreUnavailable("down")
        return self.versions.get(prompt_id)


@pytest.fixture
def source() -> FakePrompts:
    found = FakePrompts()
    found.put("p1", 1, temperature=0.2, max_tokens=300)
    return found


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def resolver(source: FakePrompts, clock: FakeClock) -> PromptResolver:
    return PromptResolver(source, clock, ttl=5.0)


def request(**fields: Any) -> ChatCall:
    data: dict[str, Any] = {"model": "openai/gpt-4o-mini",
                            "messages": [{"role": "user", "content": "About {{topic}}?"}],
                            "orq": {"prompt": {"id": "p1", "version": "latest"}}}
    data.update(fields)
    return parse_chat_request(orjson.dumps({k: v for k, v in data.items() if v is not ...}))


async def prepared(resolver: PromptResolver, call: ChatCall) -> Trace:
    trace = Trace(id="t", created=0.0)
    await Preparer(resolver).prepare(call, trace)
    return trace


async def test_prompt_messages_come_first_with_variables_filled(
        resolver: PromptResolver) -> None:
    call = request(variables={"customer": "Ada", "topic": "billing"})
    trace = await prepared(resolver, call)
    assert [m["content"] for m in call.body["messages"]] == [
        "You help Ada with billing.", "Hello, Ada.", "About billing?"]
    assert trace.extra["prompt"] == {"id": "p1", "version": 1}
    assert trace.extra["variables"]["used"] == ["customer", "topic"]
    assert trace.request is call.body


async def test_the_prompt_model_replaces_the_request_model(resolver: PromptResolver) -> None:
    call = request()
    trace = await prepared(resolver, call)
    assert call.model == call.body["model"] == trace.requested_model == "openai/gpt-4o"
    assert call.model_set() == ["openai/gpt-4o"]


async def test_a_prompt_without_a_model_keeps_the_request_model(
        resolver: PromptResolver, source: FakePrompts) -> None:
    source.put("p1", 2, model=None)
    call = request()
    await prepared(resolver, call)
    assert call.model == call.body["model"] == "openai/gpt-4o-mini"


async def test_prompt_parameters_are_defaults_under_the_request_own(
        resolver: PromptResolver) -> None:
    call = request(temperature=0.9)
    await prepared(resolver, call)
    assert call.body["temperature"] == 0.9 and call.body["max_tokens"] == 300
    sent_null = request(max_tokens=None)
    await prepared(resolver, sent_null)
    assert sent_null.body["max_tokens"] is None and sent_null.body["temperature"] == 0.2


async def test_a_request_may_rely_on_the_prompt_for_model_messages_and_parameters(
        resolver: PromptResolver, source: FakePrompts) -> None:
    source.put("p1", 2, logprobs=True)
    call = request(model=..., messages=[], top_logprobs=2)
    await prepared(resolver, call)
    assert call.model == "openai/gpt-4o" and len(call.body["messages"]) == 2
    assert call.body["logprobs"] is True and call.body["top_logprobs"] == 2


@pytest.mark.parametrize(("stored", "fields", "param"), [
    ({"max_tokens": 2000}, {"thinking": {"type": "enabled", "budget_tokens": 4096}},
     "thinking.budget_tokens"),
    ({"model": None}, {"model": ...}, "model"),
    ({"messages": []}, {"messages": []}, "messages"),
    ({}, {"top_logprobs": 2}, "top_logprobs"),
])
async def test_the_resolved_request_obeys_the_request_rules(
        resolver: PromptResolver, source: FakePrompts, stored: dict[str, Any],
        fields: dict[str, Any], param: str) -> None:
    source.put("p1", 2, **stored)
    with pytest.raises(InvalidRequest) as info:
        await prepared(resolver, request(**fields))
    assert info.value.param == param and info.value.status == 400


async def test_an_unknown_prompt_is_a_404_naming_the_field(resolver: PromptResolver) -> None:
    call = request(orq={"prompt": {"id": "missing", "version": "latest"}})
    with pytest.raises(NotFound) as info:
        await prepared(resolver, call)
    assert info.value.param == "orq.prompt.id" and info.value.code == "prompt_not_found"
    assert "'missing'" in info.value.message


async def test_a_request_cannot_change_the_cached_prompt_for_the_next(
        resolver: PromptResolver) -> None:
    first = request(variables={"customer": "Ada"})
    await prepared(resolver, first)
    first.body["messages"][1]["content"] = "tampered"
    second = request()
    await prepared(resolver, second)
    assert second.body["messages"][1]["content"] == "Hello, {{customer}}."


async def test_resolved_versions_are_reused_until_the_ttl_passes(
        resolver: PromptResolver, source: FakePrompts, clock: FakeClock) -> None:
    await prepared(resolver, request())
    source.put("p1", 2, temperature=0.7)  # as another replica would, unseen by this one
    clock.t += 4.9
    reused = await prepared(resolver, request())
    assert reused.extra["prompt"]["version"] == 1 and source.lookups == 1
    clock.t += 0.2
    fresh = await prepared(resolver, request())
    assert fresh.extra["prompt"]["version"] == 2 and source.lookups == 2


async def test_unknown_ids_are_remembered_for_the_ttl_too(
        resolver: PromptResolver, source: FakePrompts, clock: FakeClock) -> None:
    for _ in range(3):
        with pytest.raises(NotFound):
            await resolver.latest("nope")
    assert source.lookups == 1
    source.put("nope", 1)
    clock.t += 6
    assert (await resolver.latest("nope")).version == 1


async def test_a_change_through_this_process_is_seen_at_once(
        resolver: PromptResolver, source: FakePrompts) -> None:
    await resolver.latest("p1")
    source.put("p1", 2)
    for listener in source.on_change:
        listener("p1")
    assert (await resolver.latest("p1")).version == 2


async def test_concurrent_misses_share_one_lookup(
        resolver: PromptResolver, source: FakePrompts) -> None:
    source.gate = asyncio.Event()
    waiting = [asyncio.create_task(resolver.latest("p1")) for _ in range(5)]
    await asyncio.sleep(0)
    source.gate.set()
    found = await asyncio.gather(*waiting)
    assert {f.version for f in found} == {1} and source.lookups == 1


async def test_an_outage_serves_the_version_last_seen_or_a_503(
        resolver: PromptResolver, source: FakePrompts, clock: FakeClock) -> None:
    await resolver.latest("p1")
    source.down = True
    clock.t += 60
    assert (await resolver.latest("p1")).version == 1
    with pytest.raises(StoreUnavailable) as info:
        await resolver.latest("never-seen")
    assert info.value.status == 503


async def test_a_ttl_of_zero_asks_the_store_every_time(
        source: FakePrompts, clock: FakeClock) -> None:
    resolver = PromptResolver(source, clock, ttl=0)
    for _ in range(3):
        await resolver.latest("p1")
    assert source.lookups == 3
