"""Traces left by real requests, read back over HTTP: filters, threads, usage, metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY, RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.store import sample
from tests.store.conftest import empty
from tests.store.postgres import postgres_url, require
from waystation.observe.trace import Trace
from waystation.store.database import Database

__all__ = ["postgres_url"]
Start = Callable[[dict[str, str]], RunningGateway]


@pytest.fixture(params=["sqlite", "postgres"])
def engine_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    url = require(request.getfixturevalue("postgres_url"))
    asyncio.run(_emptied(url))
    return {"WAYSTATION_DATABASE_URL": url}


async def _emptied(url: str) -> None:
    db = Database(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await empty(db)
    finally:
        await db.close()


def get(gw: RunningGateway, path: str, **params: Any) -> Any:
    resp = httpx.get(gw.url + path, params=params, timeout=30,
                     headers={"Authorization": f"Bearer {gw.key}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def chat(gw: RunningGateway, *, headers: dict[str, str] | None = None, **body: Any) -> str:
    resp = httpx.post(gw.url + "/v2/router/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {gw.key}", **(headers or {})},
                      json={"model": "openai/gpt-4o-mini",
                            "messages": [{"role": "user", "content": "hello there"}], **body})
    assert resp.status_code == 200, resp.text
    return resp.headers["x-request-id"]


def traces_once_written(gw: RunningGateway, count: int, **params: Any) -> list[dict[str, Any]]:
    """The writer stores traces in the background: wait (bounded) until `count` are there."""
    deadline = time.monotonic() + 30
    while True:
        found = get(gw, "/v2/traces", limit=100, **params)["data"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def record(gw: RunningGateway, *traces: Trace) -> None:
    """Hand traces to the running gateway's recorder, on its own event loop."""
    task = gw.app.writer._task
    assert task is not None
    loop = task.get_loop()
    for t in traces:
        loop.call_soon_threadsafe(gw.app.recorder.record, t)


def test_every_request_leaves_a_trace_that_can_be_filtered(
        start_gateway: Start, fake_openai: FakeOpenAI, tmp_path: Path,
        engine_env: dict[str, str]) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path / "home", **engine_env))
    first = chat(gw, metadata={"team": "search"}, name="lookup",
                 headers={"X-ORQ-IDENTITY-ID": "user-7"})
    chat(gw, metadata={"team": "ads"})
    streamed = chat(gw, stream=True, metadata={"team": "search"})
    found = traces_once_written(gw, 3)
    assert len(found) == 3
    assert found[0]["request_id"] == streamed  # newest first
    search = get(gw, "/v2/traces", **{"metadata.team": "search"})["data"]
    assert {t["request_id"] for t in search} == {first, streamed}
    pair = get(gw, "/v2/traces", metadata_key="team", metadata_value="ads")["data"]
    assert len(pair) == 1
    assert [t["request_id"] for t in get(gw, "/v2/traces", contact_id="user-7")["data"]] == [
        first]
    assert len(get(gw, "/v2/traces", name="lookup")["data"]) == 1
    assert len(get(gw, "/v2/traces", model="openai/gpt-4o-mini", status="2xx")["data"]) == 3
    assert get(gw, "/v2/traces", status="error")["data"] == []
    assert len(get(gw, "/v2/traces", **{"from": found[-1]["created"]})["data"]) == 3
    assert get(gw, "/v2/traces", to="2000-01-01")["data"] == []
    one = get(gw, f"/v2/traces/{first}")
    assert one["_id"] == first and one["status"] == 200 and one["contact_id"] == "user-7"
    assert one["request"]["messages"][0]["content"] == "hello there"
    assert one["response"]["choices"][0]["message"]["content"]
    assert one["usage"]["total_tokens"] > 0 and one["cost"] > 0
    assert one["attempts"][0]["model"] == "openai/gpt-4o-mini"
    text = json.dumps(get(gw, "/v2/traces", include_bodies="true"))
    assert MASTER_KEY not in text and fake_openai.api_key not in text
    assert get(gw, f"/v2/traces/{streamed}")["stream"] is True


def test_contacts_and_threads_come_from_recorded_traces(
        start_gateway: Start, fake_openai: FakeOpenAI, tmp_path: Path,
        engine_env: dict[str, str]) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path / "home", **engine_env))
    record(gw,
           sample.trace(contact={"id": "u1", "display_name": "Ada", "logo_url": "https://i/a",
                                 "tags": ["vip"], "metadata": [{"plan": "pro"}]},
                        thread={"id": "conv-1", "tags": ["support"]}, prompt=1000),
           sample.trace(contact={"id": "u1"}, thread={"id": "conv-1", "tags": ["billing"]},
                        status=502),
           sample.trace(thread={"id": "conv-2"}))
    traces_once_written(gw, 3)
    contact = get(gw, "/v2/identities/u1")["identity"]
    assert (contact["display_name"], contact["avatar_url"]) == ("Ada", "https://i/a")
    assert contact["tags"] == ["vip"] and contact["metadata"] == {"plan": "pro"}
    listed = get(gw, "/v2/contacts", period="7d")["data"]
    assert listed[0]["metrics"]["total_requests"] == 2
    assert listed[0]["metrics"]["error_rate"] == 0.5
    threads = get(gw, "/v2/threads")["data"]
    assert [t["_id"] for t in threads] == ["conv-2", "conv-1"]
    conv = get(gw, "/v2/threads/conv-1")
    assert conv["tags"] == ["support", "billing"]
    assert conv["total_requests"] == 2 and conv["total_errors"] == 1
    assert len(conv["requests"]) == 2
    assert conv["requests"][0]["created"] <= conv["requests"][1]["created"]
    usage = get(gw, "/v2/usage", group_by="contact")
    assert {r["contact_id"]: r["requests"] for r in usage["data"]} == {"u1": 2, None: 1}
    assert usage["currency"] == "USD" and usage["start"] is not None


def test_metrics_count_the_requests(start_gateway: Start, fake_openai: FakeOpenAI,
                                    tmp_path: Path) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path / "home"))
    chat(gw)
    chat(gw, stream=True)
    resp = httpx.get(gw.url + "/metrics", timeout=10)  # no key needed by default
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    lines = resp.text.splitlines()
    assert ('waystation_requests_total{model="gpt-4o-mini",provider="openai",status="200"} 2.0'
            in lines)
    assert any(line.startswith("waystation_time_to_first_token_seconds_count{") and
               line.endswith(" 1.0") for line in lines)
    assert any(line.startswith('waystation_cost_usd_total{model="gpt-4o-mini"')
               for line in lines)


def test_metrics_can_require_a_key_and_bodies_can_stay_out(
        start_gateway: Start, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path / "home",
                                   WAYSTATION_METRICS_REQUIRE_KEY="true",
                                   WAYSTATION_LOG_BODIES="false"))
    assert httpx.get(gw.url + "/metrics", timeout=10).status_code == 401
    request_id = chat(gw)
    traces_once_written(gw, 1)
    one = get(gw, f"/v2/traces/{request_id}")
    assert one["request"] is None and one["response"] is None and one["usage"] is not None


def test_traces_can_be_turned_off_and_metrics_still_count(
        start_gateway: Start, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path / "home", WAYSTATION_TRACES="false"))
    chat(gw)
    chat(gw, stream=True)
    lines = httpx.get(gw.url + "/metrics", timeout=10).text.splitlines()
    assert ('waystation_requests_total{model="gpt-4o-mini",provider="openai",status="200"} 2.0'
            in lines)
    assert any(line.startswith('waystation_cost_usd_total{model="gpt-4o-mini"')
               for line in lines)
    time.sleep(0.6)  # longer than the trace writer's interval: it would have written by now
    assert get(gw, "/v2/traces")["data"] == []


def test_bad_trace_queries_are_400s(start_gateway: Start, fake_openai: FakeOpenAI,
                                    tmp_path: Path) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path / "home"))
    for params, param in (({"status": "teapot"}, "status"), ({"from": "yesterday"}, "from"),
                          ({"metadata_key": "team"}, "metadata_key"),
                          ({"from": "2030-01-02", "to": "2030-01-01"}, "from")):
        resp = httpx.get(gw.url + "/v2/traces", params=params, timeout=10,
                         headers={"Authorization": f"Bearer {gw.key}"})
        assert resp.status_code == 400 and resp.json()["error"]["param"] == param, params
    resp = httpx.get(gw.url + "/v2/usage", params={"group_by": "colour"}, timeout=10,
                     headers={"Authorization": f"Bearer {gw.key}"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "group_by"
    missing = httpx.get(gw.url + "/v2/traces/nope", timeout=10,
                        headers={"Authorization": f"Bearer {gw.key}"})
    assert missing.status_code == 404


def test_chat_requests_upsert_identities_and_group_threads(
        start_gateway: Start, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    from orq_ai_sdk import Orq

    gw = start_gateway(gateway_env(fake_openai, tmp_path / "home"))
    orq = Orq(api_key=gw.key, server_url=gw.url)
    messages = [{"role": "user", "content": "hi"}]
    orq.router.chat.completions.create(
        model="openai/gpt-4o-mini", messages=messages,
        orq={"identity": {"id": "cust-42", "display_name": "Grace", "email": "g@example.com",
                          "tags": ["beta"], "metadata": [{"plan": "team"}]},
             "thread": {"id": "conv-9", "tags": ["onboarding"]}})
    chat(gw, orq={"contact": {"id": "cust-42", "logo_url": "https://img/g.png"},
                  "thread": {"id": "conv-9"}})
    traces_once_written(gw, 2)
    person = get(gw, "/v2/identities/cust-42")["identity"]
    assert person["display_name"] == "Grace" and person["email"] == "g@example.com"
    assert person["avatar_url"] == "https://img/g.png" and person["tags"] == ["beta"]
    assert get(gw, "/v2/contacts")["data"][0]["metrics"]["total_requests"] == 2
    conv = get(gw, "/v2/threads/conv-9")
    assert conv["tags"] == ["onboarding"] and conv["total_requests"] == 2
    assert len(get(gw, "/v2/traces", thread_id="conv-9")["data"]) == 2
