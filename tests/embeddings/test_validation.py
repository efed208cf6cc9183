"""Embeddings and rerank requests: what validates, and what is refused with a 400 naming the
field (OpenAI's error shape, which the orq SDK parses)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import RunningGateway
from waystation.api.embeddings import parse_embedding_request, parse_rerank_request
from waystation.errors import GatewayError


def embed(**body: Any) -> Any:
    return parse_embedding_request(orjson.dumps(body))


def rerank(**body: Any) -> Any:
    return parse_rerank_request(orjson.dumps(body))


def refused(parse: Any, body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as err:
        parse(orjson.dumps(body))
    assert err.value.status == 400
    return err.value


@pytest.mark.parametrize(("given", "inputs"), [
    ("one", ["one"]),
    (["a", "b"], ["a", "b"]),
    ([1, 2, 3], [[1, 2, 3]]),
    ([[1, 2], "c"], [[1, 2], "c"]),
])
def test_every_openai_input_form_is_taken(given: Any, inputs: list[Any]) -> None:
    assert embed(model="openai/m", input=given).inputs == inputs


def test_sdk_floats_and_orq_fields_validate() -> None:
    call = embed(model="openai/m", input="x", encoding_format="base64", dimensions=256.0,
                 orq={"retry": {"count": 2.0, "on_codes": [429.0]}, "name": "n",
                      "timeout": {"call_timeout": 1500.0},
                      "fallbacks": [{"model": "cohere/embed-v4.0"}],
                      "cache": {"type": "exact_match", "ttl": 3600.0}})
    assert call.dimensions == 256 and call.encoding_format == "base64"
    assert call.routing.retry.count == 2 and call.routing.retry.on_codes == {429}
    assert call.routing.fallbacks == ("cohere/embed-v4.0",)
    assert call.routing.call_timeout == 1.5 and call.cache_ttl == 3600 and call.name == "n"


def test_the_identity_is_kept_for_the_trace() -> None:
    call = embed(model="openai/m", input="x", orq={"contact": {"id": "old"},
                                                   "identity": {"id": "u-9", "tags": ["a"]}})
    assert call.contact == {"id": "u-9", "tags": ["a"]}
    assert rerank(model="cohere/r", query="q", documents=["d"],
                  orq={"contact": {"id": "c-1"}}).contact == {"id": "c-1"}


def test_top_level_routing_wins_over_orq() -> None:
    call = embed(model="openai/m", input="x", retry={"count": 1},
                 orq={"retry": {"count": 4}, "name": "inner"}, name="outer")
    assert call.routing.retry.count == 1 and call.name == "outer"


def test_load_balancer_replaces_the_model() -> None:
    call = embed(input="x", load_balancer={"type": "weight_based", "models": [
        {"model": "openai/a", "weight": 0.7}, {"model": "openai/b", "weight": 0.3}]})
    assert call.routing.balanced == (("openai/a", 0.7), ("openai/b", 0.3))


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"model": "openai/m"}, "input", "Missing required parameter"),
    ({"input": "x"}, "model", "model is required"),
    ({"model": "openai/m", "input": []}, "input", "Invalid value"),
    ({"model": "openai/m", "input": ["ok", ""]}, "input[1]", "empty string"),
    ({"model": "openai/m", "input": "x", "dimensions": 0}, "dimensions", "greater than"),
    ({"model": "openai/m", "input": "x", "encoding_format": "int8"}, "encoding_format", ""),
    ({"model": "openai/m", "input": "x", "input_type": "poetry"}, "input_type", ""),
    ({"model": "openai/m", "input": "x", "metadata": {}}, "metadata", "Unrecognized"),
    ({"model": "openai/m", "input": "x", "retry": {"count": 9}}, "retry.count", ""),
    ({"model": "openai/m", "input": "x", "fallback_on_codes": [200]}, "fallback_on_codes[0]", ""),
    ({"model": "openai/m", "input": "x", "orq": {"identity": {}}}, "orq.identity.id",
     "Missing"),
    ({"model": "openai/m", "input": "x", "orq": {"thread": {"id": "t"}}}, "orq.thread",
     "Unrecognized"),
])
def test_bad_embedding_requests_name_the_field(body: dict[str, Any], param: str,
                                               words: str) -> None:
    err = refused(parse_embedding_request, body)
    assert err.param == param
    assert words in err.message


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "cohere/r", "query": "q"}, "documents"),
    ({"model": "cohere/r", "query": "", "documents": ["d"]}, "query"),
    ({"model": "cohere/r", "query": "q", "documents": []}, "documents"),
    ({"model": "cohere/r", "query": "q", "documents": [{"text": "d"}]}, "documents[0]"),
    ({"model": "cohere/r", "query": "q", "documents": ["d"], "top_n": 0}, "top_n"),
    ({"model": "cohere/r", "query": "q", "documents": ["d"], "filename": "a.pdf"}, "filename"),
    ({"model": "cohere/r", "query": "q", "documents": ["d"],
      "plugins": [{"id": "pii_redaction"}]}, "plugins"),
])
def test_bad_rerank_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    assert refused(parse_rerank_request, body).param == param


def test_a_rerank_request_keeps_what_it_asked_for() -> None:
    call = rerank(model="cohere/r", query="q", documents=["a", "b"], top_n=1.0,
                  return_documents=True, filename=None, fallbacks=[{"model": "jina/j"}])
    assert (call.top_n, call.return_documents, call.routing.fallbacks) == (1, True, ("jina/j",))


def test_errors_reach_the_caller_in_the_openai_shape(gw: RunningGateway) -> None:
    resp = httpx.post(f"{gw.url}/v2/router/embeddings", content=b"[1]", timeout=10,
                      headers={"Authorization": f"Bearer {gw.key}"})
    assert resp.status_code == 400
    assert set(resp.json()["error"]) == {"code", "message", "param", "type"}
    tokens = httpx.post(f"{gw.url}/v1/embeddings", timeout=10,
                        json={"model": "cohere/embed-v4.0", "input": [[1, 2]]},
                        headers={"Authorization": f"Bearer {gw.key}"})
    assert tokens.status_code == 400
    assert tokens.json()["error"]["param"] == "input"
    assert "token arrays" in tokens.json()["error"]["message"]
    anonymous = httpx.post(f"{gw.url}/v1/embeddings", json={"model": "openai/m", "input": "x"})
    assert anonymous.status_code == 401
