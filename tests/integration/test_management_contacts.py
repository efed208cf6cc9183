"""Contacts and identities over HTTP, on SQLite and PostgreSQL, with the official orq client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from orq_ai_sdk import Orq, models

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI
from tests.store.conftest import empty
from tests.store.postgres import postgres_url, require
from waystation.store.database import Database

__all__ = ["postgres_url"]


@pytest.fixture(params=["sqlite", "postgres"])
def gw(request: pytest.FixtureRequest, start_gateway: Callable[[dict[str, str]], RunningGateway],
       fake_openai: FakeOpenAI, tmp_path: Path) -> RunningGateway:
    extra = {}
    if request.param == "postgres":
        url = require(request.getfixturevalue("postgres_url"))
        asyncio.run(_emptied(url))
        extra["WAYSTATION_DATABASE_URL"] = url
    return start_gateway(gateway_env(fake_openai, tmp_path / "home", **extra))


async def _emptied(url: str) -> None:
    db = Database(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await empty(db)
    finally:
        await db.close()


def call(gw: RunningGateway, method: str, path: str, **kw: object) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers={"Authorization": f"Bearer {gw.key}"},
                         timeout=30, **kw)  # type: ignore[arg-type]


def test_the_orq_client_manages_identities(gw: RunningGateway) -> None:
    client = Orq(api_key=gw.key, server_url=gw.url)
    made = client.identities.create(external_id="user-1", display_name="Ada Lovelace",
                                    email="ada@example.com", tags=["vip"],
                                    metadata={"plan": "pro"})
    assert made.result.identity.external_id == "user-1"
    client.identities.create(external_id="user-2", display_name="Grace", tags=["beta"])
    page = client.identities.list(filter_by_tags=["vip"], include_metrics=True)
    assert [i.external_id for i in page.data] == ["user-1"]
    assert page.data[0].metrics is not None and page.data[0].metrics.total_requests == 0
    found = client.identities.retrieve(id="user-1")
    assert found.identity.id == made.result.identity.id
    changed = client.identities.update(id="user-1", display_name="Ada King")
    assert changed.identity.display_name == "Ada King" and changed.identity.tags == ["vip"]
    with pytest.raises(models.APIDefaultError) as caught:
        client.identities.create(external_id="user-2")
    assert caught.value.status_code == 409
    client.identities.delete(id="user-1")
    assert [i.external_id for i in client.identities.list().data] == ["user-2"]


def test_contacts_answer_in_the_41_shape(gw: RunningGateway) -> None:
    made = call(gw, "POST", "/v2/contacts", json={"external_id": "c1", "display_name": "Cy",
                                                  "tags": ["a", "b"]})
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) >= {"_id", "external_id", "workspace_id", "display_name", "email",
                         "avatar_url", "tags", "metadata", "created", "updated"}
    listed = call(gw, "GET", "/v2/contacts", params={"limit": "5.0", "tags": "['a']"}).json()
    assert listed["object"] == "list" and listed["has_more"] is False
    assert [c["external_id"] for c in listed["data"]] == ["c1"]
    assert listed["data"][0]["metrics"]["total_requests"] == 0  # SDK 4.1 requires metrics
    got = call(gw, "GET", f"/v2/contacts/{body['_id']}").json()
    assert got == body
    patched = call(gw, "PATCH", "/v2/contacts/c1", json={"email": "cy@x", "tags": []})
    assert patched.status_code == 200 and patched.json()["tags"] == []
    assert call(gw, "DELETE", "/v2/contacts/c1").status_code == 204
    gone = call(gw, "GET", "/v2/contacts/c1")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "contact_not_found"


def test_bad_requests_name_what_is_wrong(gw: RunningGateway) -> None:
    def error(resp: httpx.Response) -> tuple[int, str | None]:
        return resp.status_code, resp.json()["error"]["param"]

    assert error(call(gw, "GET", "/v2/contacts", params={"limit": "51"})) == (400, "limit")
    assert error(call(gw, "GET", "/v2/contacts", params={"search": "a"})) == (400, "search")
    assert error(call(gw, "GET", "/v2/identities", params={"sort_by": "age"})) == (
        400, "sort_by")
    assert error(call(gw, "GET", "/v2/contacts", params={"filter_by": "{"})) == (
        400, "filter_by")
    assert error(call(gw, "POST", "/v2/contacts", json={"display_name": "x"})) == (
        400, "external_id")
    assert error(call(gw, "POST", "/v2/contacts", json={"external_id": "x", "colour": 1})) == (
        400, "colour")
    assert call(gw, "GET", "/v2/identities", params={"limit": "200"}).status_code == 200
    assert httpx.get(gw.url + "/v2/contacts", timeout=10).status_code == 401


def test_list_search_and_pages_over_http(gw: RunningGateway) -> None:
    for i in range(5):
        call(gw, "POST", "/v2/identities", json={"external_id": f"u{i}",
                                                 "display_name": f"Person {i}"})
    first = call(gw, "GET", "/v2/identities", params={"limit": 2}).json()
    assert [c["external_id"] for c in first["data"]] == ["u4", "u3"] and first["has_more"]
    after = first["data"][-1]["_id"]
    second = call(gw, "GET", "/v2/identities", params={"limit": 2, "starting_after": after})
    assert [c["external_id"] for c in second.json()["data"]] == ["u2", "u1"]
    search = call(gw, "GET", "/v2/identities", params={"search": "person 3"}).json()
    assert [c["external_id"] for c in search["data"]] == ["u3"]
    by_name = call(gw, "GET", "/v2/identities",
                   params={"sort_by": "IDENTITY_SORT_FIELD_DISPLAY_NAME", "limit": 1}).json()
    assert by_name["data"][0]["display_name"] == "Person 0"
    assert call(gw, "GET", "/v2/identities/u1").json()["identity"]["external_id"] == "u1"
    assert call(gw, "DELETE", "/v2/identities/u1").json() == {}


def test_the_openapi_document_lists_the_management_api(gw: RunningGateway) -> None:
    doc = httpx.get(gw.url + "/openapi.json", timeout=10).json()
    for path in ("/v2/contacts", "/v2/identities/{id}", "/v2/traces", "/v2/traces/{id}",
                 "/v2/threads", "/v2/threads/{id}", "/v2/usage", "/metrics"):
        assert path in doc["paths"], path
    assert "_id" in doc["components"]["schemas"]["ContactRecord"]["properties"]
