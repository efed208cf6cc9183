"""`/v2/files` over HTTP: the orq SDK 4.17 client (JSON, base64), multipart uploads with httpx,
the 10 MB limit, cursor pagination and deletion; and a datasource ingesting an uploaded file
through the gateway's own ingestor."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from orq_ai_sdk import Orq

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.knowledge.ingest import samples


@pytest.fixture
def gw(start_gateway: Callable[[dict[str, str]], RunningGateway], fake_openai: FakeOpenAI,
       tmp_path: Path) -> RunningGateway:
    return start_gateway(gateway_env(fake_openai, tmp_path / "home"))


def call(gw: RunningGateway, method: str, path: str, **kw: object) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers={"Authorization": f"Bearer {gw.key}"},
                         timeout=30, **kw)  # type: ignore[arg-type]


def test_the_orq_client_uploads_lists_gets_and_deletes(gw: RunningGateway) -> None:
    client = Orq(api_key=gw.key, server_url=gw.url)
    made = client.files.create(filename="faq.md", content=base64.b64encode(b"# FAQ\n").decode(),
                               content_type="text/markdown", purpose="FILE_PURPOSE_RETRIEVAL")
    assert made.file.file_name == "faq.md" and made.file.bytes_ == "6"
    assert made.file.purpose == "FILE_PURPOSE_RETRIEVAL"
    got = client.files.get(file_id=made.file.file_id)
    assert got.file.file_id == made.file.file_id and got.file.created_at == made.file.created_at
    listed = client.files.list(limit=10)
    assert [f.file_id for f in listed.data] == [made.file.file_id]
    client.files.delete(file_id=made.file.file_id)
    assert client.files.list().data == []


def test_a_multipart_upload_keeps_name_type_and_bytes(gw: RunningGateway) -> None:
    body = samples.pdf(["Hello."])
    answer = call(gw, "POST", "/v2/files", files={"file": ("manual.pdf", body,
                                                          "application/pdf")},
                  data={"purpose": "retrieval"})
    assert answer.status_code == 200, answer.text
    record = answer.json()["file"]
    assert record["file_name"] == "manual.pdf" and record["bytes"] == str(len(body))
    assert record["purpose"] == "FILE_PURPOSE_RETRIEVAL" and record["object"] == "file"
    assert record["_id"] == record["file_id"]
    assert asyncio.run(gw.app.files.read(record["file_id"])).data == body


def test_files_over_10_mb_are_refused_with_413(gw: RunningGateway) -> None:
    big = b"a" * (10 * 1024 * 1024 + 1)
    answer = call(gw, "POST", "/v2/files", files={"file": ("big.txt", big)})
    assert answer.status_code == 413
    encoded = base64.b64encode(big).decode()
    answer = call(gw, "POST", "/v2/files", json={"filename": "big.txt", "content": encoded})
    assert answer.status_code == 413
    exactly = call(gw, "POST", "/v2/files", files={"file": ("ok.txt", big[:-1])})
    assert exactly.status_code == 200


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"files": {"other": ("a.txt", b"x")}}, "file"),
    ({"json": {"filename": "a.txt", "content": "%%%"}}, "content"),
    ({"files": {"file": ("a.txt", b"x")}, "data": {"purpose": "fun"}}, "purpose"),
])
def test_bad_uploads_are_400s_naming_the_field(gw: RunningGateway, kwargs: dict[str, object],
                                              param: str) -> None:
    answer = call(gw, "POST", "/v2/files", **kwargs)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_lists_page_newest_first_with_cursors(gw: RunningGateway) -> None:
    ids = [call(gw, "POST", "/v2/files", files={"file": (f"{i}.txt", b"x")}).json()["file"]
           ["file_id"] for i in range(5)]
    first = call(gw, "GET", "/v2/files", params={"limit": 2}).json()
    assert [f["file_id"] for f in first["data"]] == ids[::-1][:2] and first["has_more"]
    rest = call(gw, "GET", "/v2/files", params={"limit": 10,
                                                "starting_after": first["data"][-1]["file_id"]})
    assert [f["file_id"] for f in rest.json()["data"]] == ids[::-1][2:]
    assert call(gw, "GET", "/v2/files/nope").status_code == 404
    assert call(gw, "DELETE", "/v2/files/nope").status_code == 404


def test_a_datasource_made_from_an_upload_is_ingested_in_the_background(
        gw: RunningGateway) -> None:
    pytest.importorskip("wordllama")
    file_id = call(gw, "POST", "/v2/files", files={"file": ("stock.csv", samples.CSV)}
                   ).json()["file"]["file_id"]
    kb = call(gw, "POST", "/v2/knowledge", json={"key": "shop", "path": "shop/stock",
                                                 "embedding_model": "local/wordllama"})
    assert kb.status_code in (200, 201), kb.text
    made = call(gw, "POST", "/v2/knowledge/shop/datasources", json={
        "display_name": "stock", "file_id": file_id,
        "chunking_options": {"chunking_configuration": {"type": "advanced",
                                                        "chunk_max_characters": 200}}})
    assert made.status_code in (200, 201), made.text
    ds_path = f"/v2/knowledge/shop/datasources/{made.json()['_id']}"
    for _ in range(300):  # the worker finishes in well under a second; bounded, not timed
        status = call(gw, "GET", ds_path).json()
        if status["status"] in ("completed", "failed"):
            break
        threading.Event().wait(0.05)
    assert status["status"] == "completed", status
    assert status["chunks_count"] == 3
    found = call(gw, "POST", "/v2/knowledge/shop/search",
                 json={"query": "Blender", "search_type": "keyword_search", "top_k": 1,
                       "search_options": {"include_metadata": True}}).json()
    assert found["matches"][0]["metadata"]["row"] == 4, found
    assert found["matches"][0]["metadata"]["source"] == "stock.csv"
