"""Stored prompts in real chat requests: what the provider receives, the 404, the trace, the
exact-match cache, and what another replica sees while its cached version is fresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from orq_ai_sdk import Orq, models

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recorder import ListRecorder
from tests.prompts.conftest import call

pytestmark = pytest.mark.filterwarnings(  # SDK 4.17 warns when it reads `prompt_config`
    "ignore:.*DEPRECATED.*:DeprecationWarning")

PROMPT = {"messages": [{"role": "system", "content": "You help {{customer}} with {{topic}}."}],
          "model": "openai/gpt-4o", "temperature": 0.2, "max_tokens": 300}


def stored(gw: RunningGateway, prompt: dict[str, Any] = PROMPT) -> str:
    made = call(gw, "POST", "/v2/prompts", json={"display_name": "Support", "path": "Default",
                                                 "prompt": prompt})
    assert made.status_code == 200, made.text
    pid: str = made.json()["_id"]
    return pid


def ask(gw: RunningGateway, pid: str, **fields: Any) -> httpx.Response:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}],
            "orq": {"prompt": {"id": pid, "version": "latest"}}, **fields}
    return call(gw, "POST", "/v2/router/chat/completions", json=body)


def test_the_orq_sdk_runs_a_stored_prompt(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    recorder = ListRecorder()
    gw.app.recorder = recorder
    pid = stored(gw)
    client = Orq(api_key=gw.key, server_url=gw.url)
    res = client.router.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "My {{topic}} question"}],
        max_tokens=50,
        orq={"prompt": {"id": pid, "version": "latest"}},
        variables={"customer": "Jane", "topic": "billing"})
    sent = fake_openai.requests[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "You help Jane with billing."},
        {"role": "user", "content": "My billing question"}]
    assert sent["model"] == "gpt-4o"  # the prompt's model, not the request's
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50  # the request's own wins
    assert res.choices[0].message.content == "Echo: My billing question"
    trace = recorder.wait_for(1)[-1]
    assert trace.extra["prompt"] == {"id": pid, "version": 1}
    assert trace.requested_model == "openai/gpt-4o"


def test_the_openai_sdk_can_rely_on_the_prompt_alone(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    pid = stored(gw, {**PROMPT, "messages": [{"role": "user", "content": "Say {{word}}."}]})
    client = openai.OpenAI(base_url=f"{gw.url}/v2/proxy", api_key=gw.key)
    res = client.chat.completions.create(
        model="any", messages=[],
        extra_body={"orq": {"prompt": {"id": pid, "version": "latest"},
                            "inputs": {"word": "cheese"}}})
    assert res.choices[0].message.content == "Echo: Say cheese."
    assert fake_openai.requests[-1].body["model"] == "gpt-4o"


def test_an_unknown_prompt_is_a_404_and_reaches_no_provider(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    client = Orq(api_key=gw.key, server_url=gw.url)
    with pytest.raises(models.APIErrorResponse) as caught:
        client.router.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}],
            orq={"prompt": {"id": "prompt_01ARZ3NDEKTSV4RRFFQ69G5FAV", "version": "latest"}})
    assert caught.value.status_code == 404
    assert caught.value.data.error.code == "prompt_not_found"
    assert "orq.prompt.id" in caught.value.data.error.message
    assert fake_openai.requests == []


def test_the_exact_match_cache_sees_the_resolved_prompt(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    pid = stored(gw)
    cache = {"type": "exact_match", "ttl": 600}
    assert ask(gw, pid, cache=cache).headers["x-waystation-cache"] == "MISS"
    assert ask(gw, pid, cache=cache).headers["x-waystation-cache"] == "HIT"
    call(gw, "PATCH", f"/v2/prompts/{pid}", json={"prompt": {"temperature": 0.9}})
    changed = ask(gw, pid, cache=cache)
    assert changed.headers["x-waystation-cache"] == "MISS"  # a new version, a new key
    assert fake_openai.requests[-1].body["temperature"] == 0.9
    assert len(fake_openai.requests) == 2


def test_replicas_see_a_change_at_once_here_and_within_their_ttl_elsewhere(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    here = start_gateway(gateway_env(fake_openai, tmp_path))
    there = start_gateway(gateway_env(fake_openai, tmp_path,
                                      WAYSTATION_PROMPT_CACHE_SECONDS="3600"))
    uncached = start_gateway(gateway_env(fake_openai, tmp_path,
                                         WAYSTATION_PROMPT_CACHE_SECONDS="0"))
    pid = stored(here)
    for gw in (here, there, uncached):
        assert ask(gw, pid).status_code == 200
        assert fake_openai.requests[-1].body["temperature"] == 0.2
    call(here, "PATCH", f"/v2/prompts/{pid}", json={"prompt": {"temperature": 0.7}})
    temperatures = []
    for gw in (here, there, uncached):
        assert ask(gw, pid).status_code == 200
        temperatures.append(fake_openai.requests[-1].body["temperature"])
    assert temperatures == [0.7, 0.2, 0.7]  # `there` still holds version 1 for its TTL
    call(here, "DELETE", f"/v2/prompts/{pid}")
    assert ask(here, pid).status_code == 404
    assert ask(there, pid).status_code == 200  # until its TTL passes


def test_stream_requests_resolve_the_prompt_too(
        fake_openai: FakeOpenAI, tmp_path: Path, start_gateway: Any) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    pid = stored(gw)
    client = Orq(api_key=gw.key, server_url=gw.url)
    with client.router.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}],
            stream=True, orq={"prompt": {"id": pid, "version": "latest"}},
            variables={"customer": "Li", "topic": "x"}) as stream:
        text = "".join(ch.delta.content or "" for ev in stream for ch in ev.data.choices)
    assert text == "Echo: Hi"
    assert fake_openai.requests[-1].body["messages"][0]["content"] == "You help Li with x."
