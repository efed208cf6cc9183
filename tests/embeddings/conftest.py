"""A gateway in front of the fake OpenAI, Cohere-embed and Gemini-embed servers, with Groq, Jina
and Voyage pointed at the fake OpenAI server (their embeddings answers are OpenAI-shaped)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.cohere_embed_server import API_KEY as COHERE_KEY
from tests.fakes.cohere_embed_server import FakeCohereEmbed
from tests.fakes.gemini_embed_server import API_KEY as GEMINI_KEY
from tests.fakes.gemini_embed_server import FakeGeminiEmbed
from tests.fakes.openai_server import FakeOpenAI
from waystation.clock import Clock


class FakeSleepClock(Clock):
    """Real time for durations; backoff sleeps are recorded and skipped."""

    def __init__(self) -> None:
        super().__init__(rng=random.Random(7))
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture(scope="session")
def cohere_fake() -> Iterator[FakeCohereEmbed]:
    server = FakeCohereEmbed().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gemini_fake() -> Iterator[FakeGeminiEmbed]:
    server = FakeGeminiEmbed().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeSleepClock:
    return FakeSleepClock()


@pytest.fixture
def gw(fake_openai: FakeOpenAI, cohere_fake: FakeCohereEmbed, gemini_fake: FakeGeminiEmbed,
      tmp_path: Path, start_gateway: Any, clock: FakeSleepClock) -> RunningGateway:
    cohere_fake.reset()
    gemini_fake.reset()
    compat = {f"{name}_{var}": value for name in ("GROQ", "JINA", "VOYAGE")
              for var, value in (("API_KEY", fake_openai.api_key),
                                 ("BASE_URL", fake_openai.base_url))}
    env = gateway_env(fake_openai, tmp_path, COHERE_API_KEY=COHERE_KEY,
                      COHERE_BASE_URL=cohere_fake.base_url, GEMINI_API_KEY=GEMINI_KEY,
                      GEMINI_BASE_URL=gemini_fake.base_url, WAYSTATION_HEALTH_FAILURES="100",
                      **compat)
    return start_gateway(env, clock=clock)
