"""The response cache through real gateways: hits never reach the provider, streams and plain
answers share entries, keys are private to each API key, replicas share through Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from orq_ai_sdk import Orq

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI, Fault
from tests.fakes.recorder import ListRecorder

REDIS_URL = "redis://127.0.0.1:6379/0"
CACHE = {"type": "exact_match", "ttl": 600}


def ask(gw: RunningGateway, content: str = "hello", key: str | None = None,
        **extra: Any) -> httpx.Response:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": content}],
            "cache": CACHE, **extra}
    return httpx.post(f"{gw.url}/v2/router/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key or gw.key}"})


@pytest.fixture
def gw(fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> RunningGateway:
    return start_gateway(gateway_env(fake_openai, tmp_path))


def test_a_hit_never_calls_the_provider(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    recorder = ListRecorder()
    gw.app.recorder = recorder
    first = ask(gw)
    assert first.headers["x-waystation-cache"] == "MISS"
    second = ask(gw, metadata={"other": "labels"}, name="do not matter")
    assert second.headers["x-waystation-cache"] == "HIT"
    assert len(fake_openai.requests) == 1
    assert second.json()["choices"] == first.json()["choices"]
    usage = second.json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == usage["prompt_tokens"]
    assert [t.cache_hit for t in recorder.wait_for(2)] == [False, True]
    assert recorder.traces[1].attempts == []


def test_any_parameter_change_misses(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    ask(gw)
    ask(gw, temperature=0.5)
    ask(gw, "hello!")
    assert len(fake_openai.requests) == 3


def test_requests_without_cache_are_not_served_from_it(gw: RunningGateway,
                                                       fake_openai: FakeOpenAI) -> None:
    ask(gw)
    resp = httpx.post(f"{gw.url}/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {gw.key}"},
                      json={"model": "openai/gpt-4o-mini",
                            "messages": [{"role": "user", "content": "hello"}]})
    assert "x-waystation-cache" not in resp.headers
    assert len(fake_openai.requests) == 2


def test_a_streaming_request_is_served_from_a_plain_answer(gw: RunningGateway,
                                                           fake_openai: FakeOpenAI) -> None:
    plain = ask(gw, "stream me").json()
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
    chunks = list(client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "stream me"}],
        stream=True, stream_options={"include_usage": True}, extra_body={"cache": CACHE}))
    assert len(fake_openai.requests) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-1].usage is not None


def test_a_streamed_answer_fills_the_cache_once_complete(gw: RunningGateway,
                                                         fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}}}}]
    live = list(client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "tools"}],
        tools=tools, stream=True, extra_body={"cache": CACHE}))
    assert all(c.choices for c in live)  # the caller asked for no usage chunk, and got none
    assert fake_openai.requests[-1].body["stream_options"] == {"include_usage": True}
    again = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "tools"}],
        tools=tools, extra_body={"cache": CACHE})
    assert len(fake_openai.requests) == 1
    assert again.choices[0].message.tool_calls[0].function.name == "lookup"
    assert again.choices[0].finish_reason == "tool_calls"


def test_errors_and_broken_streams_are_not_cached(gw: RunningGateway,
                                                  fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=500))
    assert ask(gw, "flaky").status_code == 502
    assert ask(gw, "flaky").status_code == 200
    fake_openai.add_fault(Fault(die_after_chunks=2))
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions",
                      headers={"Authorization": f"Bearer {gw.key}"},
                      json={"model": "openai/gpt-4o-mini", "stream": True, "cache": CACHE,
                            "messages": [{"role": "user", "content": "one two three"}]}) as r:
        assert '"error"' in r.read().decode()
    assert ask(gw, "one two three").headers["x-waystation-cache"] == "MISS"
    assert len(fake_openai.requests) == 4


def test_entries_are_private_to_each_api_key(gw: RunningGateway, fake_openai: FakeOpenAI,
                                             tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "waystation.cli.main", "keys", "create", "--name", "tenant-b"],
        env={**os.environ, "WAYSTATION_HOME": str(tmp_path)}, capture_output=True, text=True,
        timeout=60, check=True)
    other = made.stdout.strip()
    assert ask(gw).headers["x-waystation-cache"] == "MISS"
    assert ask(gw, key=other).headers["x-waystation-cache"] == "MISS"
    assert ask(gw, key=other).headers["x-waystation-cache"] == "HIT"
    assert len(fake_openai.requests) == 2


def test_concurrent_identical_misses_make_one_upstream_call(
        gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(hang=0.5))

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"model": "openai/gpt-4o-mini", "cache": CACHE,
                    "messages": [{"role": "user", "content": "together"}]}
            return list(await asyncio.gather(*[
                client.post(f"{gw.url}/v1/chat/completions", json=body,
                            headers={"Authorization": f"Bearer {gw.key}"}) for _ in range(8)]))

    answers = asyncio.run(burst())
    assert all(r.status_code == 200 for r in answers)
    assert len(fake_openai.requests) == 1
    assert sorted(r.headers["x-waystation-cache"] for r in answers).count("MISS") == 1


def test_the_orq_sdk_cache_field_and_legacy_orq_form(gw: RunningGateway,
                                                     fake_openai: FakeOpenAI) -> None:
    orq = Orq(api_key=gw.key, server_url=gw.url)
    messages = [{"role": "user", "content": "orq cache"}]
    orq.router.chat.completions.create(model="openai/gpt-4o-mini", messages=messages,
                                       cache={"type": "exact_match", "ttl": 600.0})
    orq.router.chat.completions.create(model="openai/gpt-4o-mini", messages=messages,
                                       orq={"cache": {"type": "exact_match"}})
    assert len(fake_openai.requests) == 1


async def _redis_up() -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


def test_replicas_share_hits_through_redis(fake_openai: FakeOpenAI, tmp_path: Path,
                                           start_gateway: Any) -> None:
    if not asyncio.run(_redis_up()):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379; start it (see "
                    "../shared/ci/services.md) to run this test")
    env = gateway_env(fake_openai, tmp_path, WAYSTATION_REDIS_URL=REDIS_URL)
    one, two = start_gateway(env), start_gateway(env)
    question = f"shared {uuid.uuid4().hex}"
    assert ask(one, question).headers["x-waystation-cache"] == "MISS"
    assert ask(two, question).headers["x-waystation-cache"] == "HIT"
    assert len(fake_openai.requests) == 1


def test_a_redis_outage_only_costs_misses(fake_openai: FakeOpenAI, tmp_path: Path,
                                          start_gateway: Any) -> None:
    env = gateway_env(fake_openai, tmp_path, WAYSTATION_REDIS_URL="redis://127.0.0.1:1/0")
    gw = start_gateway(env)
    for _ in range(3):
        resp = ask(gw, "no redis")
        assert resp.status_code == 200
        assert resp.headers["x-waystation-cache"] == "MISS"
    assert len(fake_openai.requests) == 3
    assert gw.app.cache.backend.stats.errors + gw.app.cache.backend.stats.skipped >= 1
