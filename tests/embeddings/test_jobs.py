"""Batching, retries that keep finished batches, fallbacks that start over, and rerank merges:
the embeddings service driven through scripted in-memory backends and a fake clock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from waystation.clock import Clock
from waystation.config.settings import load_settings
from waystation.embeddings.base import Ranked
from waystation.embeddings.call import EmbedCall, Input, RerankCall
from waystation.embeddings.jobs import batches
from waystation.embeddings.service import EmbeddingsService
from waystation.embeddings.wire import EmbedBatch, Fields, RerankBatch
from waystation.errors import (
    AllAttemptsFailed,
    GatewayError,
    NotFound,
    UnsupportedParameter,
    UpstreamUnavailable,
)
from waystation.providers.base import Target
from waystation.providers.executor import Executor
from waystation.routing.health import LocalHealth
from waystation.routing.options import RetryPolicy, RoutingOptions


class SleeplessClock(Clock):
    def __init__(self) -> None:
        super().__init__(rng=random.Random(3))
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class ScriptedEmbed:
    """Embeds each text as [len(text), batch number]; fails the batches listed in `fail`."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.sent: list[tuple[str, list[Input]]] = []
        self.fail: list[tuple[str, str]] = []  # (model, first text of the batch) fails once
        self.refuse: set[str] = set()

    def batch_size(self, target: Target) -> int:
        return self.size

    def prepare(self, call: EmbedCall, target: Target, *, drop: bool) -> Fields:
        if target.model in self.refuse:
            raise UnsupportedParameter("no dimensions here", param="dimensions")
        return {}

    async def embed(self, fields: Fields, inputs: Sequence[Input], target: Target) -> EmbedBatch:
        self.sent.append((target.model, list(inputs)))
        key = (target.model, str(inputs[0]))
        if key in self.fail:
            self.fail.remove(key)
            raise UpstreamUnavailable("down", provider="openai", upstream_status=503)
        await asyncio.sleep(0)
        return EmbedBatch([[float(len(str(t))), float(len(self.sent))] for t in inputs], 1)


class ScriptedRerank:
    def __init__(self, size: int) -> None:
        self.size = size

    def batch_size(self, target: Target) -> int:
        return self.size

    def prepare(self, call: RerankCall, target: Target, *, drop: bool) -> Fields:
        return {}

    async def rerank(self, fields: Fields, query: str, documents: Sequence[str],
                     target: Target) -> RerankBatch:
        scores = [Ranked(i, float(d.count(query)) / 10) for i, d in enumerate(documents)]
        return RerankBatch(sorted(scores, key=lambda r: r.score, reverse=True), len(documents))


@pytest.fixture
def backend() -> ScriptedEmbed:
    return ScriptedEmbed()


@pytest.fixture
def clock() -> SleeplessClock:
    return SleeplessClock()


def service(tmp_path: Path, clock: Clock, embed: Any, rerank: Any | None = None
            ) -> EmbeddingsService:
    settings = load_settings({"WAYSTATION_HOME": str(tmp_path), "OPENAI_API_KEY": "k",
                              "COHERE_API_KEY": "k"})
    return EmbeddingsService(settings, Executor(timeout=5), clock,
                             LocalHealth(failures=100, cooldown=1),
                             backends=({"openai": embed}, {"cohere": rerank}))


def test_batches_keep_order_and_sizes() -> None:
    assert batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert batches([], 3) == []


async def test_inputs_are_batched_and_put_back_in_order(tmp_path: Path, clock: SleeplessClock,
                                                       backend: ScriptedEmbed) -> None:
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    out = await service(tmp_path, clock, backend).embed("openai/m", texts)
    assert [v[0] for v in out.vectors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert sorted(len(batch) for _, batch in backend.sent) == [1, 2, 2]
    assert out.prompt_tokens == 3 and out.model == "openai/m"


async def test_a_retry_resends_only_the_failed_batch(tmp_path: Path, clock: SleeplessClock,
                                                    backend: ScriptedEmbed) -> None:
    backend.fail = [("m", "ccc")]
    call = EmbedCall(model="openai/m", inputs=["a", "bb", "ccc", "dddd"],
                     routing=RoutingOptions(retry=RetryPolicy(count=2, on_codes=frozenset({503}))))
    attempts: list[Any] = []
    out = await service(tmp_path, clock, backend).embed_call(call, attempts)
    assert [v[0] for v in out.vectors] == [1.0, 2.0, 3.0, 4.0]
    assert [batch[0] for _, batch in backend.sent].count("a") == 1  # not sent again
    assert [batch[0] for _, batch in backend.sent].count("ccc") == 2
    assert [a.status for a in attempts] == [503, 200] and len(clock.sleeps) == 1


async def test_a_fallback_embeds_everything_again_with_its_own_model(
        tmp_path: Path, clock: SleeplessClock, backend: ScriptedEmbed) -> None:
    backend.fail = [("m", "ccc")]
    call = EmbedCall(model="openai/m", inputs=["a", "bb", "ccc"],
                     routing=RoutingOptions(fallbacks=("openai/other",)))
    out = await service(tmp_path, clock, backend).embed_call(call, [])
    assert out.model == "openai/other"
    assert {batch[0] for model, batch in backend.sent if model == "other"} == {"a", "ccc"}


async def test_a_fallback_that_cannot_take_the_request_is_skipped(
        tmp_path: Path, clock: SleeplessClock, backend: ScriptedEmbed) -> None:
    backend.fail = [("m", "a")]
    backend.refuse = {"picky"}
    call = EmbedCall(model="openai/m", inputs=["a"],
                     routing=RoutingOptions(fallbacks=("openai/picky", "openai/last")))
    attempts: list[Any] = []
    out = await service(tmp_path, clock, backend).embed_call(call, attempts)
    assert out.model == "openai/last"
    assert [(a.model, a.status) for a in attempts] == [
        ("openai/m", 503), ("openai/picky", 400), ("openai/last", 200)]


async def test_the_first_model_refusing_the_request_is_the_callers_400(
        tmp_path: Path, clock: SleeplessClock, backend: ScriptedEmbed) -> None:
    backend.refuse = {"picky"}
    with pytest.raises(UnsupportedParameter):
        await service(tmp_path, clock, backend).embed("openai/picky", ["a"])
    assert backend.sent == []


async def test_every_failure_is_listed_when_nothing_answers(
        tmp_path: Path, clock: SleeplessClock, backend: ScriptedEmbed) -> None:
    backend.fail = [("m", "a"), ("n", "a")]
    call = EmbedCall(model="openai/m", inputs=["a"],
                     routing=RoutingOptions(fallbacks=("openai/n",)))
    with pytest.raises(AllAttemptsFailed) as err:
        await service(tmp_path, clock, backend).embed_call(call, [])
    assert [a["model"] for a in err.value.attempts] == ["openai/m", "openai/n"]
    assert err.value.status == 503


async def test_unknown_and_chat_only_providers_are_refused_before_sending(
        tmp_path: Path, clock: SleeplessClock, backend: ScriptedEmbed) -> None:
    svc = service(tmp_path, clock, backend)
    with pytest.raises(NotFound) as unknown:
        await svc.embed_call(EmbedCall(model="openai/m", inputs=["a"], routing=RoutingOptions(
            fallbacks=("nosuch/x",))), [])
    assert unknown.value.param == "fallbacks[0].model"
    with pytest.raises(GatewayError) as chat_only:
        await svc.embed("anthropic/claude-haiku-4-5", ["a"])
    assert chat_only.value.status == 400 and chat_only.value.code == "model_not_supported"
    assert "openai" in chat_only.value.message
    assert backend.sent == []


async def test_rerank_merges_batches_and_cuts_at_top_n(tmp_path: Path, clock: SleeplessClock,
                                                      backend: ScriptedEmbed) -> None:
    svc = service(tmp_path, clock, backend, ScriptedRerank(size=2))
    docs = ["x", "q q q", "q", "q q q q", "none"]
    ranked = await svc.rerank("cohere/r", "q", docs, top_n=3)
    assert ranked == [Ranked(3, 0.4), Ranked(1, 0.3), Ranked(2, 0.1)]
    full = await svc.rerank_call(RerankCall(model="cohere/r", query="q", documents=docs), [])
    assert sorted(r.index for r in full.ranked) == [0, 1, 2, 3, 4]
    assert full.total_tokens == 5 and full.model == "cohere/r"
