"""`/v2/prompts` over HTTP on SQLite and PostgreSQL, with httpx and the orq SDK 4.17 client."""

from __future__ import annotations

from typing import Any

import pytest
from orq_ai_sdk import Orq, models

from tests.conftest import RunningGateway
from tests.prompts.conftest import call

pytestmark = pytest.mark.filterwarnings(  # SDK 4.17 warns when it reads `prompt_config`
    "ignore:.*DEPRECATED.*:DeprecationWarning")

SYSTEM = [{"role": "system", "content": "You summarise {{document}} in one line."}]
PROMPT_FIELDS = {"_id", "type", "owner", "domain_id", "created", "updated", "display_name",
                 "description", "path", "prompt", "prompt_config", "metadata", "version",
                 "version_id"}


def create(gw: RunningGateway, **fields: Any) -> dict[str, Any]:
    body = {"display_name": "Summary", "path": "Default/summaries",
            "prompt": {"messages": SYSTEM, "model": "openai/gpt-4o-mini", "temperature": 0.2},
            **fields}
    made = call(gw, "POST", "/v2/prompts", json=body)
    assert made.status_code == 200, made.text
    result: dict[str, Any] = made.json()
    return result


def test_create_get_update_and_versions(gw: RunningGateway) -> None:
    made = create(gw, description="one line", metadata={"use_cases": ["Summarization"],
                                                        "language": "English"},
                  commit_message="first cut")
    assert set(made) == PROMPT_FIELDS and made["type"] == "prompt" and made["version"] == 1
    assert made["prompt"] == {"messages": SYSTEM, "model": "openai/gpt-4o-mini",
                              "temperature": 0.2}
    assert made["prompt_config"]["model_parameters"] == {"temperature": 0.2}
    pid = made["_id"]
    assert call(gw, "GET", f"/v2/prompts/{pid}").json() == made

    renamed = call(gw, "PATCH", f"/v2/prompts/{pid}", json={"display_name": "Digest"}).json()
    assert renamed["display_name"] == "Digest" and renamed["version"] == 1

    changed = call(gw, "PATCH", f"/v2/prompts/{pid}",
                   json={"prompt": {"max_tokens": 64, "temperature": None},
                         "commit_message": "shorter"}).json()
    assert changed["version"] == 2
    assert changed["prompt"] == {"messages": SYSTEM, "model": "openai/gpt-4o-mini",
                                 "max_tokens": 64}
    assert changed["prompt_config"]["model_parameters"] == {"maxTokens": 64}

    again = call(gw, "PATCH", f"/v2/prompts/{pid}", json={"prompt": {"max_tokens": 64}}).json()
    assert again["version"] == 2  # nothing changed, no version

    versions = call(gw, "GET", f"/v2/prompts/{pid}/versions").json()
    assert versions["object"] == "list" and versions["has_more"] is False
    assert [(v["version"], v["commit_message"]) for v in versions["data"]] == [
        (2, "shorter"), (1, "first cut")]
    first = versions["data"][1]
    assert first["prompt"]["temperature"] == 0.2 and first["prompt_id"] == pid
    for ref in (first["_id"], "1"):
        assert call(gw, "GET", f"/v2/prompts/{pid}/versions/{ref}").json() == first
    latest = call(gw, "GET", f"/v2/prompts/{pid}/versions/latest").json()
    assert latest["_id"] == changed["version_id"]


def test_delete_and_not_found(gw: RunningGateway) -> None:
    pid = create(gw)["_id"]
    deleted = call(gw, "DELETE", f"/v2/prompts/{pid}")
    assert deleted.status_code == 200 and deleted.json() == {}
    for path in (f"/v2/prompts/{pid}", f"/v2/prompts/{pid}/versions",
                 f"/v2/prompts/{pid}/versions/1"):
        gone = call(gw, "GET", path)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "prompt_not_found"
    assert call(gw, "DELETE", f"/v2/prompts/{pid}").status_code == 404
    pid = create(gw)["_id"]
    missing = call(gw, "GET", f"/v2/prompts/{pid}/versions/9")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "prompt_version_not_found"


def test_list_pages_and_search(gw: RunningGateway) -> None:
    ids = [create(gw, display_name=f"Prompt {i}")["_id"] for i in range(5)]
    first = call(gw, "GET", "/v2/prompts", params={"limit": "2.0"}).json()
    assert [p["_id"] for p in first["data"]] == ids[:2:-1] and first["has_more"]
    second = call(gw, "GET", "/v2/prompts", params={"limit": 2,
                                                    "starting_after": first["data"][-1]["_id"]})
    assert [p["_id"] for p in second.json()["data"]] == [ids[2], ids[1]]
    before = call(gw, "GET", "/v2/prompts", params={"ending_before": ids[1]}).json()
    assert [p["_id"] for p in before["data"]] == [ids[4], ids[3], ids[2]]
    found = call(gw, "GET", "/v2/prompts", params={"search": "prompt 4"}).json()
    assert [p["_id"] for p in found["data"]] == [ids[4]]
    assert call(gw, "GET", "/v2/prompts", params={"limit": 201}).status_code == 400


def test_the_deprecated_prompt_config_is_accepted(gw: RunningGateway) -> None:
    made = create(gw, prompt=None, prompt_config={
        "messages": SYSTEM, "model": "gpt-4o", "provider": "openai",
        "model_parameters": {"maxTokens": 100.0, "topP": 0.5, "presencePenalty": 1}})
    assert made["prompt"] == {"messages": SYSTEM, "model": "openai/gpt-4o", "max_tokens": 100,
                              "top_p": 0.5, "presence_penalty": 1}
    assert made["prompt_config"]["model_parameters"] == {"maxTokens": 100, "topP": 0.5,
                                                         "presencePenalty": 1}
    changed = call(gw, "PATCH", f"/v2/prompts/{made['_id']}",
                   json={"prompt_config": {"model_parameters": {"topP": None}}}).json()
    assert changed["version"] == 2 and "top_p" not in changed["prompt"]


@pytest.mark.parametrize(("body", "param"), [
    ({"prompt": {"messages": SYSTEM, "temperature": 2.5}}, "prompt.temperature"),
    ({"prompt": {"messages": SYSTEM, "fallbacks": [{"model": "x"}]}}, "prompt.fallbacks"),
    ({"prompt": {"messages": [{"role": "user", "content": 5}]}}, "prompt.messages[0].content"),
    ({"prompt": None, "prompt_config": {"messages": SYSTEM, "model_parameters": {"topP": 3}}},
     "prompt_config.model_parameters.topP"),
    ({"prompt": None}, "prompt"),
    ({"prompt_config": {"messages": SYSTEM}}, "prompt_config"),  # both spellings
    ({"metadata": {"language": "Klingon"}}, "metadata.language"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_prompts_are_refused_at_create_time(
        gw: RunningGateway, body: dict[str, Any], param: str) -> None:
    answer = call(gw, "POST", "/v2/prompts", json={
        "display_name": "x", "path": "p", "prompt": {"messages": SYSTEM}, **body})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param
    assert call(gw, "GET", "/v2/prompts").json()["data"] == []


def test_invalid_updates_change_nothing(gw: RunningGateway) -> None:
    made = create(gw)
    bad = call(gw, "PATCH", f"/v2/prompts/{made['_id']}",
               json={"prompt": {"top_logprobs": 3}, "display_name": "renamed"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "prompt.top_logprobs"
    assert call(gw, "GET", f"/v2/prompts/{made['_id']}").json() == made


def test_the_orq_sdk_prompts_client(gw: RunningGateway) -> None:
    client = Orq(api_key=gw.key, server_url=gw.url)
    made = client.prompts.create(request={
        "display_name": "Support", "path": "Default/support",
        "metadata": {"use_cases": ["Chatbots"], "language": "English"},
        "prompt": {"messages": [{"role": "system", "content": "Be kind."}],
                   "model": "openai/gpt-4o-mini", "temperature": 0.4, "max_tokens": 100}})
    assert made.type == "prompt" and made.prompt.temperature == 0.4
    assert made.metadata is not None and made.metadata.language == "English"
    got = client.prompts.retrieve(id=made.id)
    assert got.display_name == "Support" and got.prompt.max_tokens == 100
    changed = client.prompts.update(id=made.id, prompt={"temperature": 0.9})
    assert changed.prompt.temperature == 0.9
    listed = client.prompts.list(limit=5)
    assert [p.id for p in listed.data] == [made.id] and listed.has_more is False
    versions = client.prompts.list_versions(prompt_id=made.id)
    assert len(versions.data) == 2 and versions.data[0].prompt.temperature == 0.9
    first = client.prompts.get_version(prompt_id=made.id, version_id=versions.data[1].id)
    assert first.prompt.temperature == 0.4
    client.prompts.delete(id=made.id)
    with pytest.raises(models.OrqError) as gone:
        client.prompts.retrieve(id=made.id)
    assert gone.value.status_code == 404
