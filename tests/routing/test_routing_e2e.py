"""Retries, fallbacks, load balancing and timeouts through a real gateway, against a fake
provider that injects faults; backoff runs on a fake clock so no test waits for it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from orq_ai_sdk import Orq, models

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI, Fault
from waystation.clock import Clock

MSG = [{"role": "user", "content": "hi"}]


class FakeSleepClock(Clock):
    """Real time for durations, but backoff sleeps are recorded and skipped."""

    def __init__(self, seed: int = 1) -> None:
        super().__init__(rng=random.Random(seed))
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock() -> FakeSleepClock:
    return FakeSleepClock()


@pytest.fixture
def gw(fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any,
       clock: FakeSleepClock) -> RunningGateway:
    env = gateway_env(fake_openai, tmp_path, GROQ_API_KEY=fake_openai.api_key,
                      GROQ_BASE_URL=fake_openai.base_url, WAYSTATION_HEALTH_FAILURES="100")
    return start_gateway(env, clock=clock)


def chat(gw: RunningGateway, **body: Any) -> httpx.Response:
    payload = {"model": "openai/gpt-4o-mini", "messages": MSG, **body}
    return httpx.post(f"{gw.url}/v2/router/chat/completions", json=payload, timeout=30,
                      headers={"Authorization": f"Bearer {gw.key}"})


def test_retries_on_listed_codes_with_backoff(gw: RunningGateway, fake_openai: FakeOpenAI,
                                              clock: FakeSleepClock) -> None:
    fake_openai.add_fault(Fault(status=503), times=2)
    resp = chat(gw, retry={"count": 3, "on_codes": [503]})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-waystation-attempts"] == "3"
    assert len(fake_openai.requests) == 3
    assert len(clock.sleeps) == 2
    assert 0.75 <= clock.sleeps[0] <= 1.25 and 1.5 <= clock.sleeps[1] <= 2.5


def test_retry_after_from_the_provider_is_honoured(gw: RunningGateway, fake_openai: FakeOpenAI,
                                                   clock: FakeSleepClock) -> None:
    fake_openai.add_fault(Fault(status=429, headers={"Retry-After": "3"}))
    resp = chat(gw, retry={"count": 1})  # on_codes defaults to [429]
    assert resp.status_code == 200
    assert clock.sleeps == [3.0]


def test_codes_not_listed_are_not_retried(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=500))
    resp = chat(gw, retry={"count": 3})  # only 429 by default
    assert resp.status_code == 502
    assert len(fake_openai.requests) == 1


def test_the_callers_400_is_never_retried(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    resp = chat(gw, messages=[{"role": "user", "content": "please fail 400"}],
                retry={"count": 5, "on_codes": [400, 429]})
    assert resp.status_code == 400
    assert len(fake_openai.requests) == 1


def test_connection_resets_and_hangs_are_retried(gw: RunningGateway,
                                                 fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(reset=True))
    fake_openai.add_fault(Fault(hang=2))
    resp = chat(gw, retry={"count": 2}, timeout={"call_timeout": 300})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-waystation-attempts"] == "3"


def test_fallback_to_another_model_after_retries(gw: RunningGateway,
                                                 fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503, model="gpt-4o-mini"), times=2)
    resp = chat(gw, retry={"count": 1, "on_codes": [503]},
                fallbacks=[{"model": "groq/llama-3.1-8b-instant"}])
    assert resp.status_code == 200
    assert resp.json()["model"] == "groq/llama-3.1-8b-instant"
    assert resp.headers["x-waystation-model"] == "groq/llama-3.1-8b-instant"
    assert [r.body["model"] for r in fake_openai.requests] == [
        "gpt-4o-mini", "gpt-4o-mini", "llama-3.1-8b-instant"]


def test_no_fallback_on_codes_not_listed(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503))
    resp = chat(gw, fallbacks=[{"model": "groq/x"}], fallback_on_codes=[500])
    assert resp.status_code == 503
    assert len(fake_openai.requests) == 1


def test_when_everything_fails_the_error_lists_every_attempt(
        gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503, model="gpt-4o-mini"))
    fake_openai.add_fault(Fault(status=429, model="a"))
    fake_openai.add_fault(Fault(status=500, model="b"))
    resp = chat(gw, fallbacks=[{"model": "groq/a"}, {"model": "groq/b"}])
    assert resp.status_code == 429  # the most telling: the rate limit
    assert resp.headers["x-waystation-attempts"] == "3"
    err = resp.json()["error"]
    assert [a["model"] for a in err["attempts"]] == ["openai/gpt-4o-mini", "groq/a", "groq/b"]
    assert [a["status"] for a in err["attempts"]] == [503, 429, 500]
    assert all(a["duration_ms"] >= 0 and a["error"] for a in err["attempts"])


def test_unknown_fallback_model_is_a_404_naming_it(gw: RunningGateway) -> None:
    resp = chat(gw, fallbacks=[{"model": "openai/ok"}, {"model": "nosuch/x"}])
    assert resp.status_code == 404
    assert resp.json()["error"]["param"] == "fallbacks[1].model"


def test_fallback_to_an_unconfigured_provider_is_skipped(gw: RunningGateway,
                                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=500, model="gpt-4o-mini"))
    resp = chat(gw, fallbacks=[{"model": "mistral/mistral-small"}, {"model": "groq/ok"}])
    assert resp.status_code == 200
    assert resp.json()["model"] == "groq/ok"


def test_load_balancer_ignores_model_and_follows_weights(gw: RunningGateway,
                                                         fake_openai: FakeOpenAI) -> None:
    lb = {"type": "weight_based", "models": [{"model": "openai/a", "weight": 0.2},
                                             {"model": "groq/b", "weight": 0.8}]}
    answered = [chat(gw, model="openai/ignored", load_balancer=lb).json()["model"]
                for _ in range(200)]
    share_b = answered.count("groq/b") / 200
    assert 0.65 <= share_b <= 0.93
    assert "openai/ignored" not in answered
    legacy = [{"model": "openai/c", "weight": 1.0}]
    assert chat(gw, orq={"load_balancer": legacy}).json()["model"] == "openai/c"


def test_top_level_routing_wins_over_orq(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=500, model="gpt-4o-mini"))
    resp = chat(gw, fallbacks=[{"model": "groq/top"}], orq={"fallbacks": [{"model": "groq/orq"}]})
    assert resp.json()["model"] == "groq/top"


def test_call_timeout_counts_as_408_and_falls_back(gw: RunningGateway,
                                                  fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(hang=3, model="gpt-4o-mini"))
    resp = chat(gw, timeout={"call_timeout": 200}, fallbacks=[{"model": "groq/quick"}])
    assert resp.status_code == 200
    assert resp.json()["model"] == "groq/quick"
    fake_openai.add_fault(Fault(hang=3))
    resp = chat(gw, timeout={"call_timeout": 200})
    assert resp.status_code == 504
    assert resp.json()["error"]["code"] == "call_timeout"


def test_streams_retry_before_the_first_byte(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503))
    fake_openai.add_fault(Fault(die_after_chunks=0))
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
    chunks = list(client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x y"}], stream=True,
        extra_body={"retry": {"count": 2, "on_codes": [503]}}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Echo: x y"
    assert len(fake_openai.requests) == 3


def test_streams_fall_back_before_the_first_byte(gw: RunningGateway,
                                                 fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(hang=5, model="gpt-4o-mini"))
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
    # the timeout bounds the backup's first attempt too (a first connection to its host): wide
    # enough for a slow machine, far below the primary's hang
    chunks = list(client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=MSG, stream=True,
        extra_body={"timeout": {"call_timeout": 1500},
                    "fallbacks": [{"model": "groq/backup"}]}))
    assert {c.model for c in chunks} == {"groq/backup"}


def test_after_the_first_byte_a_failure_is_one_error_event(gw: RunningGateway,
                                                           fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(die_after_chunks=2))
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions",
                      headers={"Authorization": f"Bearer {gw.key}"},
                      json={"model": "openai/gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": "a b c d e"}],
                            "retry": {"count": 3}, "fallbacks": [{"model": "groq/x"}]}) as r:
        body = r.read().decode()
    events = [b for b in body.strip().split("\n\n") if b]
    assert '"error"' in events[-1] and "[DONE]" not in body
    assert len(fake_openai.requests) == 1  # no retry once bytes went out


def test_stream_idle_gap_is_bounded_by_the_call_timeout(gw: RunningGateway,
                                                        fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(chunk_delay=1.0))
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions",
                      headers={"Authorization": f"Bearer {gw.key}"},
                      json={"model": "openai/gpt-4o-mini", "stream": True, "messages": MSG,
                            "timeout": {"call_timeout": 300}}) as r:
        body = r.read().decode()
    assert "upstream_timeout" in body or "call_timeout" in body


def test_orq_sdk_sends_routing_fields(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503, model="gpt-4o-mini"))
    orq = Orq(api_key=gw.key, server_url=gw.url)
    res = orq.router.chat.completions.create(
        model="openai/gpt-4o-mini", messages=MSG, retry={"count": 2.0, "on_codes": [429.0]},
        fallbacks=[{"model": "groq/fallback"}], timeout={"call_timeout": 30000.0})
    assert res.model == "groq/fallback"
    with pytest.raises(models.APIErrorResponse):
        orq.router.chat.completions.create(model="openai/x", messages=MSG, retry={"count": 9})


def test_a_failing_model_is_cooled_down_and_skipped(fake_openai: FakeOpenAI, tmp_path: Path,
                                                   start_gateway: Any) -> None:
    env = gateway_env(fake_openai, tmp_path, GROQ_API_KEY=fake_openai.api_key,
                      GROQ_BASE_URL=fake_openai.base_url, WAYSTATION_HEALTH_FAILURES="2",
                      WAYSTATION_HEALTH_COOLDOWN="60")
    gw = start_gateway(env, clock=FakeSleepClock())
    fake_openai.add_fault(Fault(status=503, model="sick"), times=2)
    for _ in range(2):
        assert chat(gw, model="groq/sick").status_code == 503
    fake_openai.requests.clear()
    lb = {"type": "weight_based", "models": [{"model": "groq/sick", "weight": 1.0},
                                             {"model": "groq/well", "weight": 0.001}]}
    answered = {chat(gw, load_balancer=lb).json()["model"] for _ in range(20)}
    assert answered == {"groq/well"}
    # a cooled-down requested model goes after its healthy fallbacks
    resp = chat(gw, model="groq/sick", fallbacks=[{"model": "groq/well"}])
    assert resp.json()["model"] == "groq/well"
    assert all(r.body["model"] != "sick" for r in fake_openai.requests)


def test_total_backoff_is_capped(gw: RunningGateway, fake_openai: FakeOpenAI,
                                 clock: FakeSleepClock) -> None:
    fake_openai.add_fault(Fault(status=429, headers={"Retry-After": "120"}))
    resp = chat(gw, retry={"count": 3})
    assert resp.status_code == 429  # waiting 120 s would pass the 60 s budget: given up
    assert clock.sleeps == []
    assert len(fake_openai.requests) == 1
