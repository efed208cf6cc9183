"""The knowledge API over HTTP on a real gateway (fake embeddings and reranker), an external
knowledge base behind a fake server, and the Postgres(pgvector) backend behind the gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server import FakeServer
from tests.knowledge.conftest import unique_key
from tests.knowledge.fakes import OverlapReranker, WordEmbeddings

StartGateway = Callable[..., RunningGateway]


class FakeExternalKnowledge(FakeServer):
    """A user's own knowledge service: answers every search with two matches."""

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/search", self._search)

    async def _search(self, request: web.Request) -> web.Response:
        self._record(request, await request.json())
        return web.json_response({"matches": [
            {"id": "ext-1", "text": "External passage one", "metadata": {"page": 3},
             "scores": {"search_score": 0.9}},
            {"id": "ext-2", "text": "External passage two", "scores": {"search_score": 0.4}},
        ]})


@pytest.fixture(scope="module")
def external() -> Iterator[FakeExternalKnowledge]:
    server = FakeExternalKnowledge().start()
    yield server
    server.stop()


def client(gw: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {gw.key}"},
                        timeout=30)


def started(start_gateway: StartGateway, fake: FakeOpenAI, home: Path,
            **env: str) -> RunningGateway:
    gw = start_gateway(gateway_env(fake, home, **env))
    gw.app.embeddings = WordEmbeddings()  # type: ignore[assignment]
    gw.app.reranker = OverlapReranker()  # type: ignore[assignment]
    return gw


def fill(c: httpx.Client, key: str | None = None) -> tuple[str, str, list[dict[str, Any]]]:
    key = key or unique_key()
    assert c.post("/v2/knowledge", json={"key": key, "embedding_model": "fake/words",
                                         "path": "support/faq"}).status_code == 201
    source = c.post(f"/v2/knowledge/{key}/datasources", json={"display_name": "FAQ"}).json()
    chunks = c.post(f"/v2/knowledge/{key}/datasources/{source['_id']}/chunks", json=[
        {"text": "To reset your password open Settings then Security.",
         "metadata": {"lang": "en", "year": 2021}},
        {"text": "Invoices are emailed monthly.", "metadata": {"lang": "en", "year": 2023}},
        {"text": "Refunds for annual plans are prorated.", "metadata": {"lang": "fr"}},
    ])
    assert chunks.status_code == 201, chunks.text
    return key, source["_id"], chunks.json()


def test_knowledge_bases_are_managed_by_id_or_key(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key = unique_key()
        made = c.post("/v2/knowledge", json={"key": key, "embedding_model": "fake/words",
                                             "path": "a/b", "retrieval_settings": {
                                                 "retrieval_type": "vector_search",
                                                 "top_k": 3.0}})
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["model"] == "fake/words"
        assert body["retrieval_settings"]["top_k"] == 3
        assert body["retrieval_settings"]["retrieval_type"] == "vector_search"
        assert c.get(f"/v2/knowledge/{body['_id']}").json()["key"] == key
        assert c.get(f"/v2/knowledge/{key}").json()["_id"] == body["_id"]
        again = c.post("/v2/knowledge", json={"key": key, "embedding_model": "fake/words"})
        assert again.status_code == 409
        patched = c.patch(f"/v2/knowledge/{key}", json={"description": "FAQ"})
        assert patched.json()["description"] == "FAQ"
        other = unique_key()
        c.post("/v2/knowledge", json={"key": other, "embedding_model": "fake/words"})
        first = c.get("/v2/knowledge", params={"limit": 1}).json()
        assert first["object"] == "list" and len(first["data"]) == 1 and first["has_more"]
        second = c.get("/v2/knowledge", params={"limit": 1,
                                                "starting_after": first["data"][0]["_id"]})
        assert second.json()["data"][0]["_id"] != first["data"][0]["_id"]
        assert c.delete(f"/v2/knowledge/{key}").status_code == 204
        assert c.get(f"/v2/knowledge/{key}").status_code == 404
        missing = c.post("/v2/knowledge", json={"key": unique_key()})
        assert missing.status_code == 400 and missing.json()["error"]["param"] == \
            "embedding_model"


def test_datasources_and_chunks_over_http(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key, did, chunks = fill(c)
        base = f"/v2/knowledge/{key}/datasources/{did}"
        source = c.get(base).json()
        assert source["chunks_count"] == 3 and source["status"] == "completed"
        assert c.patch(base, json={"display_name": "Help"}).json()["display_name"] == "Help"
        assert [d["_id"] for d in c.get(f"/v2/knowledge/{key}/datasources").json()["data"]] \
            == [did]
        listed = c.get(f"{base}/chunks", params={"limit": 2}).json()
        assert [x["_id"] for x in listed["data"]] == [x["_id"] for x in chunks[:2]]
        assert listed["has_more"] is True
        rest = c.get(f"{base}/chunks", params={"starting_after": listed["data"][1]["_id"]})
        assert [x["_id"] for x in rest.json()["data"]] == [chunks[2]["_id"]]
        page2 = c.post(f"{base}/chunks/list", json={"limit": 2, "page": 2}).json()
        assert [x["_id"] for x in page2["data"]] == [chunks[2]["_id"]]
        one = f"{base}/chunks/{chunks[0]['_id']}"
        assert c.patch(f"{one}/enabled", json={"enabled": False}).json()["enabled"] is False
        assert c.post(f"{base}/chunks/count", json={"enabled": True}).json() == {"count": 2}
        assert c.post(f"{base}/chunks/count", json={"q": "invoices"}).json() == {"count": 1}
        edited = c.patch(one, json={"metadata": {"lang": "de", "draft": True}})
        assert edited.json()["metadata"] == {"lang": "de", "draft": True}
        gone = c.request("DELETE", f"{base}/chunks",
                         json={"chunk_ids": [chunks[1]["_id"], "nope"]}).json()
        assert gone == {"deleted_count": 1, "failed_ids": ["nope"]}
        assert c.delete(one).status_code == 204
        assert c.get(one).status_code == 404
        assert c.delete(base).status_code == 204
        assert c.get(base).status_code == 404


@pytest.mark.parametrize(("body", "param"), [
    ({"text": "x", "metadata": {"tags": ["a"]}}, "[0].metadata.tags"),
    ({"text": ""}, "[0].text"),
    ({"text": "x", "embedding": [0.1, 0.2]}, "embedding"),
])
def test_bad_chunks_are_400s(start_gateway: StartGateway, fake_openai: FakeOpenAI,
                             tmp_path: Path, body: dict[str, Any], param: str) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key, did, _ = fill(c)
        answer = c.post(f"/v2/knowledge/{key}/datasources/{did}/chunks", json=[body])
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["param"] == param


def test_search_endpoint_answers_matches(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key, _, chunks = fill(c)
        found = c.post(f"/v2/knowledge/{key}/search", json={
            "query": "reset password", "top_k": 2.0, "search_type": "hybrid_search",
            "filter_by": {"lang": {"$eq": "en"}},
            "search_options": {"include_vectors": True, "include_metadata": True,
                               "include_scores": True}}).json()
        first = found["matches"][0]
        assert first["id"] == chunks[0]["_id"]
        assert first["metadata"] == {"lang": "en", "year": 2021}
        assert len(first["vector"]) == 64 and 0 < first["scores"]["search_score"] <= 1
        assert {m["id"] for m in found["matches"]} <= {chunks[0]["_id"], chunks[1]["_id"]}
        bare = c.post(f"/v2/knowledge/{key}/search", json={
            "query": "refunds", "search_type": "keyword_search",
            "search_options": {"include_metadata": False, "include_scores": False},
            "rerank_config": {"model": "fake/rerank", "threshold": 0.5}}).json()
        assert bare == {"matches": [{"id": chunks[2]["_id"], "text": chunks[2]["text"]}]}
        bad = c.post(f"/v2/knowledge/{key}/search", json={
            "query": "x", "filter_by": {"or": [{"year": {"gt": "2020"}}]}})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "filter_by.or[0].year.gt"
        assert c.post("/v2/knowledge/nope/search", json={"query": "x"}).status_code == 404


def test_external_knowledge_base_is_searched_over_http_without_leaking_its_key(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
    external: FakeExternalKnowledge,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path)
    with client(gw) as c:
        key = unique_key()
        made = c.post("/v2/knowledge", json={
            "type": "external", "key": key, "path": "ext",
            "external_config": {"name": "Mine", "api_url": f"{external.endpoint}/search",
                                "api_key": "sk-secret"}}).json()
        assert made["external_config"] == {"name": "Mine",
                                           "api_url": f"{external.endpoint}/search"}
        assert "sk-secret" not in c.get(f"/v2/knowledge/{key}").text
        found = c.post(f"/v2/knowledge/{key}/search", json={
            "query": "hello", "top_k": 1, "filter_by": {"page": {"gt": 1}}}).json()
        assert found["matches"] == [{"id": "ext-1", "text": "External passage one",
                                     "metadata": {"page": 3},
                                     "scores": {"search_score": 0.9}}]
        sent = external.requests[-1]
        assert sent.headers["Authorization"] == "Bearer sk-secret"
        assert sent.body["query"] == "hello" and sent.body["top_k"] == 1
        assert sent.body["filter_by"] == {"page": {"gt": 1}}
        refused = c.post(f"/v2/knowledge/{key}/datasources", json={"display_name": "x"})
        assert refused.status_code == 400


def test_gateway_keeps_knowledge_in_postgres_with_pgvector(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path, pgvector_url: str,
) -> None:
    gw = started(start_gateway, fake_openai, tmp_path,
                 WAYSTATION_KNOWLEDGE_DATABASE_URL=pgvector_url)
    assert gw.app.knowledge.backend.name == "postgres"
    with client(gw) as c:
        key, _, chunks = fill(c)
        found = c.post(f"/v2/knowledge/{key}/search", json={
            "query": "refunds annual", "search_type": "vector_search", "top_k": 1}).json()
        assert [m["id"] for m in found["matches"]] == [chunks[2]["_id"]]
    assert not (tmp_path / "knowledge.db").exists()
