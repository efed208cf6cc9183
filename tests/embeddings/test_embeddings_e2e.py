"""Embeddings and rerank through a real gateway, with the official `openai` and `orq-ai-sdk`
clients, in front of fake providers over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
from orq_ai_sdk import Orq, models

from tests.conftest import RunningGateway
from tests.embeddings.conftest import FakeSleepClock
from tests.fakes.cohere_embed_server import FakeCohereEmbed
from tests.fakes.gemini_embed_server import FakeGeminiEmbed
from tests.fakes.openai_server import FakeOpenAI, Fault, fake_vector


def client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(api_key=gw.key, base_url=f"{gw.url}/v1", max_retries=0)


def orq(gw: RunningGateway) -> Orq:
    return Orq(api_key=gw.key, server_url=gw.url)


def post(gw: RunningGateway, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gw.url}{path}", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {gw.key}"})


def test_openai_sdk_gets_float_vectors_in_order(gw: RunningGateway,
                                                fake_openai: FakeOpenAI) -> None:
    res = client(gw).embeddings.create(model="openai/text-embedding-3-small",
                                       input=["alpha", "beta"], encoding_format="float",
                                       dimensions=4, user="u-1")
    assert [d.embedding for d in res.data] == [fake_vector("alpha", 4), fake_vector("beta", 4)]
    assert [d.index for d in res.data] == [0, 1]
    assert res.model == "openai/text-embedding-3-small"
    assert res.usage.prompt_tokens == 2 == res.usage.total_tokens
    sent = fake_openai.requests[-1].body
    assert sent == {"model": "text-embedding-3-small", "encoding_format": "float",
                    "dimensions": 4, "user": "u-1", "input": ["alpha", "beta"]}


def test_openai_sdk_default_base64_is_encoded_by_the_gateway(gw: RunningGateway,
                                                             fake_openai: FakeOpenAI) -> None:
    res = client(gw).embeddings.create(model="openai/text-embedding-3-small", input="gamma")
    assert res.data[0].embedding == pytest.approx(fake_vector("gamma"), abs=1e-6)
    assert fake_openai.requests[-1].body["encoding_format"] == "float"  # floats upstream


def test_token_arrays_go_to_openai(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    res = client(gw).embeddings.create(model="openai/text-embedding-3-small",
                                       input=[[1, 2, 3]], encoding_format="float")
    assert res.data[0].embedding == fake_vector("1 2 3")
    assert fake_openai.requests[-1].body["input"] == [[1, 2, 3]]


def test_cohere_inputs_are_batched_by_96(gw: RunningGateway, cohere_fake: FakeCohereEmbed
                                         ) -> None:
    texts = [f"text number {i}" for i in range(100)]
    res = client(gw).embeddings.create(model="cohere/embed-v4.0", input=texts,
                                       encoding_format="float")
    assert [d.embedding for d in res.data] == [fake_vector(t) for t in texts]
    assert sorted(len(r.body["texts"]) for r in cohere_fake.requests) == [4, 96]
    assert {r.body["input_type"] for r in cohere_fake.requests} == {"search_document"}
    assert res.usage.prompt_tokens == 300


def test_gemini_embeds_through_batch_embed_contents(gw: RunningGateway,
                                                    gemini_fake: FakeGeminiEmbed) -> None:
    resp = post(gw, "/v2/router/embeddings", {"model": "google/gemini-embedding-001",
                                              "input": ["q1"], "input_type": "search_query",
                                              "dimensions": 3})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"][0]["embedding"] == fake_vector("q1", 3)
    assert gemini_fake.requests[-1].body["requests"][0]["taskType"] == "RETRIEVAL_QUERY"


def test_jina_and_voyage_speak_their_own_fields(gw: RunningGateway,
                                                fake_openai: FakeOpenAI) -> None:
    jina = post(gw, "/v1/embeddings", {"model": "jina/jina-embeddings-v3", "input": "x",
                                       "input_type": "search_document"})
    assert jina.status_code == 200, jina.text
    assert fake_openai.requests[-1].body["task"] == "retrieval.passage"
    voyage = post(gw, "/v1/embeddings", {"model": "voyageai/voyage-3.5", "input": "x",
                                         "input_type": "search_query"})
    assert voyage.status_code == 200, voyage.text
    assert fake_openai.requests[-1].body["input_type"] == "query"
    assert voyage.json()["model"] == "voyage/voyage-3.5"


def test_orq_sdk_embeddings_with_routing_fields(gw: RunningGateway, fake_openai: FakeOpenAI,
                                                clock: FakeSleepClock) -> None:
    fake_openai.add_fault(Fault(status=429))
    res = orq(gw).router.embeddings.create(
        model="openai/text-embedding-3-small", input=["delta"], encoding_format="float",
        retry={"count": 2, "on_codes": [429]}, name="kb-ingest")
    assert res.data is not None and res.data[0].embedding == fake_vector("delta")
    assert res.usage.total_tokens == 1
    assert len(fake_openai.requests) == 2 and len(clock.sleeps) == 1


def test_orq_sdk_rerank_returns_documents_best_first(gw: RunningGateway,
                                                     cohere_fake: FakeCohereEmbed) -> None:
    docs = ["the sky is blue", "green apples and red apples", "red cars"]
    res = orq(gw).router.rerank.create(model="cohere/rerank-v3.5", query="red apples",
                                       documents=docs, top_n=2, return_documents=True)
    assert [int(r.index) for r in res.results] == [1, 2]
    assert res.results[0].relevance_score == 1.0
    assert res.results[0].document is not None
    assert res.results[0].document.text == docs[1]
    assert res.id and res.usage is not None and res.usage.total_tokens == 9
    assert cohere_fake.requests[-1].body["top_n"] == 2


def test_orq_sdk_sees_a_missing_model_as_a_404(gw: RunningGateway) -> None:
    # the SDK parses only a 401 of this endpoint into APIErrorResponse; others stay raw
    with pytest.raises(models.APIDefaultError) as err:
        orq(gw).router.embeddings.create(model="nosuch/model", input="x")
    assert err.value.status_code == 404
    error = json.loads(err.value.body)["error"]
    assert (error["param"], error["code"]) == ("model", "provider_not_found")


def test_orq_sdk_parses_a_bad_key_as_its_error_model(gw: RunningGateway) -> None:
    with pytest.raises(models.APIErrorResponse) as err:
        Orq(api_key="wrong", server_url=gw.url).router.embeddings.create(
            model="openai/text-embedding-3-small", input="x")
    assert err.value.data.error.type == "authentication_error"


def test_retries_then_fallback_to_another_provider(gw: RunningGateway, fake_openai: FakeOpenAI,
                                                   clock: FakeSleepClock) -> None:
    fake_openai.add_fault(Fault(status=503, model="text-embedding-3-small"), times=3)
    resp = post(gw, "/v2/router/embeddings", {
        "model": "openai/text-embedding-3-small", "input": ["x", "y"],
        "retry": {"count": 2, "on_codes": [503]}, "fallbacks": [{"model": "groq/embed-b"}]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "groq/embed-b"
    assert resp.headers["x-waystation-attempts"] == "4"
    assert [r.body["model"] for r in fake_openai.requests] == ["text-embedding-3-small"] * 3 + [
        "embed-b"]
    assert len(clock.sleeps) == 2


def test_no_fallback_on_a_code_not_listed(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=500))
    resp = post(gw, "/v2/router/embeddings", {
        "model": "openai/a", "input": "x", "fallbacks": [{"model": "openai/b"}],
        "fallback_on_codes": [503]})
    assert resp.status_code == 502
    assert len(fake_openai.requests) == 1


def test_call_timeout_falls_back(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(hang=1.5, model="slow"))
    resp = post(gw, "/v2/router/embeddings", {
        "model": "openai/slow", "input": "x", "timeout": {"call_timeout": 100},
        "orq": {"fallbacks": [{"model": "openai/quick"}]}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "openai/quick"


def test_every_failed_attempt_is_reported(gw: RunningGateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.add_fault(Fault(status=503), times=2)
    resp = post(gw, "/v2/router/embeddings", {
        "model": "openai/a", "input": "x", "fallbacks": [{"model": "openai/b"}]})
    assert resp.status_code == 503
    error = resp.json()["error"]
    assert [a["model"] for a in error["attempts"]] == ["openai/a", "openai/b"]


def test_exact_match_cache_serves_the_second_request(gw: RunningGateway,
                                                     fake_openai: FakeOpenAI) -> None:
    body = {"model": "openai/text-embedding-3-small", "input": ["same"],
            "cache": {"type": "exact_match", "ttl": 60}}
    first = post(gw, "/v2/router/embeddings", body)
    second = post(gw, "/v2/router/embeddings", body)
    other = post(gw, "/v2/router/embeddings", {**body, "dimensions": 4})
    assert first.headers["x-waystation-cache"] == "MISS"
    assert second.headers["x-waystation-cache"] == "HIT"
    assert second.json() == first.json()
    assert other.headers["x-waystation-cache"] == "MISS"
    assert len(fake_openai.requests) == 2


def test_rerank_through_an_embeddings_only_provider_is_refused(gw: RunningGateway) -> None:
    resp = post(gw, "/v2/router/rerank", {"model": "openai/text-embedding-3-small",
                                          "query": "q", "documents": ["d"]})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "model_not_supported"
    assert "cohere" in resp.json()["error"]["message"]


def test_a_missing_key_names_the_variable(gw: RunningGateway) -> None:
    resp = post(gw, "/v1/embeddings", {"model": "mistral/mistral-embed", "input": "x"})
    assert resp.status_code == 503
    assert "MISTRAL_API_KEY" in resp.json()["error"]["message"]


def test_routes_are_in_the_openapi_document(gw: RunningGateway) -> None:
    paths = httpx.get(f"{gw.url}/openapi.json").json()["paths"]
    assert {"/v2/router/embeddings", "/v1/embeddings", "/v2/router/rerank"} <= set(paths)


def traces_once_written(gw: RunningGateway, count: int) -> list[dict[str, Any]]:
    """The writer stores traces in the background: wait (bounded) until `count` are there."""
    deadline = time.monotonic() + 30
    while True:
        found = httpx.get(f"{gw.url}/v2/traces", params={"limit": 100}, timeout=30,
                          headers={"Authorization": f"Bearer {gw.key}"}).json()["data"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_embeddings_and_reranks_leave_traces_without_vectors(gw: RunningGateway) -> None:
    embedded = post(gw, "/v2/router/embeddings", {"model": "openai/text-embedding-3-small",
                                                  "input": ["a", "b"], "name": "ingest",
                                                  "orq": {"identity": {"id": "user-3"}}})
    ranked = httpx.post(f"{gw.url}/v2/router/rerank", timeout=30,
                        json={"model": "cohere/rerank-v3.5", "query": "q", "documents": ["q"]},
                        headers={"Authorization": f"Bearer {gw.key}",
                                 "X-ORQ-IDENTITY-ID": "user-4"})
    assert embedded.status_code == ranked.status_code == 200
    found = {t["request_id"]: t for t in traces_once_written(gw, 2)}
    trace = httpx.get(f"{gw.url}/v2/traces/{embedded.headers['x-request-id']}", timeout=30,
                      headers={"Authorization": f"Bearer {gw.key}"}).json()
    assert trace["name"] == "ingest" and trace["model"] == "openai/text-embedding-3-small"
    assert trace["usage"]["prompt_tokens"] == 2
    assert trace["response"] == {"object": "list", "vectors": 2, "dimensions": 8}
    assert trace["contact_id"] == "user-3"
    assert found[ranked.headers["x-request-id"]]["contact_id"] == "user-4"
