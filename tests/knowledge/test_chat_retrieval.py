"""Retrieval inside chat completions, end to end: the orq SDK 4.17 calls a real gateway, and
the fake OpenAI server shows what the model was sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from orq_ai_sdk import Orq, models

from tests.conftest import RunningGateway
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server import Fault
from tests.knowledge.test_knowledge_http import client, fill, started
from waystation.observe.trace import Trace

StartGateway = Callable[..., RunningGateway]


class Keep:
    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def record(self, trace: Trace) -> None:
        self.traces.append(trace)

    def last(self) -> Trace:
        """The latest trace: recorded just after the answer is sent, so it may lag a moment."""
        for _ in range(500):
            if self.traces:
                return self.traces[-1]
            time.sleep(0.01)
        raise AssertionError("no trace was recorded")


def sdk(gw: RunningGateway) -> Orq:
    return Orq(api_key=gw.key, server_url=gw.url)


def completion(text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-script", "object": "chat.completion", "created": int(time.time()),
            "model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
                                                 "message": {"role": "assistant",
                                                             "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def test_chunks_go_into_a_new_system_message_citing_their_source(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    keep = Keep()
    gw.app.recorder = keep
    with client(gw) as c:
        key, _, chunks = fill(c)
    res = sdk(gw).router.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "How do I reset my password?"}],
        orq={"knowledge_bases": [{"knowledge_id": key, "top_k": 1,
                                  "search_type": "hybrid_search"}]})
    assert res.choices[0].message.content == "Echo: How do I reset my password?"
    sent = fake_openai.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert f'knowledge base "{key}"' in sent[0]["content"]
    assert (f"[1] source: FAQ; chunk: {chunks[0]['_id']}\n{chunks[0]['text']}"
            in sent[0]["content"])
    assert chunks[1]["text"] not in sent[0]["content"]
    report = keep.last().extra["retrieval"]["knowledge_bases"][0]
    assert report["query"] == "How do I reset my password?"
    assert report["injected"] == "system"
    assert [m["id"] for m in report["matches"]] == [chunks[0]["_id"]]
    assert 0 < report["matches"][0]["search_score"] <= 1
    assert "retrieve_ms" in report["timings_ms"]


def test_a_placeholder_receives_the_chunks_and_the_query_overrides_the_user_text(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key, _, chunks = fill(c)
    sdk(gw).router.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Context:\n{{" + key + "}}\n\nWhat is {{topic}}?"}],
        variables={"topic": "billing"},
        orq={"knowledge_bases": [{"knowledge_id": key, "query": "refunds annual plans",
                                  "top_k": 1, "search_type": "keyword_search",
                                  "filter_by": {"lang": {"eq": "fr"}}}]})
    sent = fake_openai.requests[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert chunks[2]["text"] in sent[1]["content"]
    assert sent[1]["content"].endswith("What is billing?")
    assert "{{" not in sent[1]["content"]


def test_unknown_knowledge_base_is_a_404_naming_the_entry(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key, _, _ = fill(c)
    with pytest.raises(models.APIErrorResponse) as info:
        sdk(gw).router.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
            orq={"knowledge_bases": [{"knowledge_id": key}, {"knowledge_id": "missing-kb"}]})
    assert info.value.status_code == 404
    assert info.value.data.error.param == "orq.knowledge_bases[1].knowledge_id"
    assert fake_openai.requests == []


def test_retrieval_runs_before_the_cache(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key, did, chunks = fill(c)
        body = {"model": "openai/gpt-4o-mini", "cache": {"type": "exact_match"},
                "messages": [{"role": "user", "content": "reset password"}],
                "orq": {"knowledge_bases": [{"knowledge_id": key, "top_k": 1}]}}
        first = c.post("/v2/router/chat/completions", json=body)
        second = c.post("/v2/router/chat/completions", json=body)
        assert (first.headers["x-waystation-cache"],
                second.headers["x-waystation-cache"]) == ("MISS", "HIT")
        c.patch(f"/v2/knowledge/{key}/datasources/{did}/chunks/{chunks[0]['_id']}/enabled",
                json={"enabled": False})
        third = c.post("/v2/router/chat/completions", json=body)
        assert third.headers["x-waystation-cache"] == "MISS"  # the context changed
    assert chunks[0]["text"] not in fake_openai.requests[-1].body["messages"][0]["content"]


def test_agentic_rag_calls_the_model_through_the_gateway(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    keep = Keep()
    gw.app.recorder = keep
    with client(gw) as c:
        key, _, chunks = fill(c)
    fake_openai.add_fault(Fault(status=200, body=completion("refunds invoices")))
    fake_openai.add_fault(Fault(status=200, body=completion('{"relevant": [2]}')))
    sdk(gw).router.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Can I get my money back?"}],
        orq={"knowledge_bases": [{"knowledge_id": key, "top_k": 2,
                                  "search_type": "keyword_search",
                                  "agentic_rag_config": {"model": "openai/gpt-4o-mini"}}]})
    rewrite, grade, answer = (r.body for r in fake_openai.requests)
    assert rewrite["messages"][1]["content"] == "Can I get my money back?"
    assert "Question: refunds invoices" in grade["messages"][1]["content"]
    report = keep.last().extra["retrieval"]["knowledge_bases"][0]
    assert report["search_query"] == "refunds invoices"
    assert len(report["matches"]) == 1 and len(report["dropped"]) == 1
    by_id = {c["_id"]: c["text"] for c in chunks}
    context = answer["messages"][0]["content"]
    assert by_id[report["matches"][0]["id"]] in context
    assert by_id[report["dropped"][0]] not in context
    assert by_id[report["dropped"][0]] in grade["messages"][1]["content"]


def test_real_local_embeddings_find_the_paraphrase(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    pytest.importorskip("wordllama", reason="local/wordllama embeddings need the PyPI "
                        "package wordllama: pip install wordllama")
    from tests.conftest import gateway_env

    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {gw.key}"},
                      timeout=60) as c:
        assert c.post("/v2/knowledge", json={"key": "local-kb",
                                             "embedding_model": "local/wordllama"}).is_success
        did = c.post("/v2/knowledge/local-kb/datasources", json={}).json()["_id"]
        texts = ["Our office dog is a golden retriever named Biscuit.",
                 "To change your login credentials, visit the account security page.",
                 "The cafeteria serves soup every Tuesday."]
        made = c.post(f"/v2/knowledge/local-kb/datasources/{did}/chunks",
                      json=[{"text": t} for t in texts]).json()
        found = c.post("/v2/knowledge/local-kb/search", json={
            "query": "how can I update my password", "search_type": "vector_search",
            "top_k": 1}).json()
    assert [m["id"] for m in found["matches"]] == [made[1]["_id"]]
