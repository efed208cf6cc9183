"""Every embeddings and rerank adapter against golden files: request → wire request, wire
answer → vectors or ranking, error body → typed error, and what each provider refuses.

Each `golden/*.json` holds an input and the expected output under `expect`. To regenerate the
expectations after a deliberate change, run with WAYSTATION_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig
from waystation.embeddings.backends import EMBED_WIRES, RERANK_WIRES
from waystation.embeddings.call import EmbedCall, RerankCall
from waystation.errors import GatewayError, UpstreamError
from waystation.providers.base import Target

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("WAYSTATION_UPDATE_GOLDEN") == "1"
BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "mistral": "https://api.mistral.ai/v1",
    "azure": "https://res.openai.azure.com",
    "cohere": "https://api.cohere.com",
    "google": "https://generativelanguage.googleapis.com",
    "bedrock": "",
    "jina": "https://api.jina.ai/v1",
    "voyage": "https://api.voyageai.com/v1",
}
OPTIONS = {"azure": {"api_version": "2024-10-21"}, "bedrock": {"region": "eu-west-1"}}


def target(provider: str, model: str) -> Target:
    spec = BUILTIN[provider]
    config = ProviderConfig(spec=spec, base_url=BASE_URLS[provider], api_key=f"{provider}-key",
                            key_var=spec.key_vars[0] if spec.key_vars else "",
                            options=OPTIONS.get(provider, {}))
    return Target(config, model, f"{provider}/{model}")


def cases(*kinds: str) -> list[Any]:
    out = []
    for path in sorted(GOLDEN.glob("*.json")):
        data = json.loads(path.read_text())
        if data["kind"] in kinds:
            out.append(pytest.param(path, data, id=path.stem))
    return out


def check(path: Path, data: dict[str, Any], actual: Any) -> None:
    actual = json.loads(orjson.dumps(actual))
    if UPDATE:
        data["expect"] = actual
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    assert "expect" in data, f"{path.name} has no expectation yet"
    assert actual == data["expect"]


def embed_wire(data: dict[str, Any]) -> Any:
    return EMBED_WIRES[BUILTIN[data["provider"]].wire]()


def rerank_wire(data: dict[str, Any]) -> Any:
    return RERANK_WIRES[BUILTIN[data["provider"]].wire]()


def wire_dict(request: Any) -> dict[str, Any]:
    return {"method": request.method, "url": request.url, "headers": dict(request.headers),
            "body": orjson.loads(request.body)}


def error_dict(err: GatewayError) -> dict[str, Any]:
    out = {"class": type(err).__name__, "status": err.status, "code": err.code,
           "message": err.message, "param": err.param, "type": err.type}
    if isinstance(err, UpstreamError):
        out["upstream_status"] = err.upstream_status
        out["retry_after"] = err.retry_after
    return out


@pytest.mark.parametrize(("path", "data"), cases("embed_encode"))
def test_embedding_request_becomes_the_golden_wire_request(path: Path, data: dict[str, Any]
                                                           ) -> None:
    wire = embed_wire(data)
    tgt = target(data["provider"], data["model"])
    fields = wire.prepare(EmbedCall(model=data["model"], **data["call"]), tgt,
                          drop=data.get("drop", False))
    batch = data["call"]["inputs"][: wire.batch_size(tgt)]
    check(path, data, {"batch_size": wire.batch_size(tgt),
                       "wire": wire_dict(wire.encode(fields, batch, tgt))})


@pytest.mark.parametrize(("path", "data"), cases("embed_decode"))
def test_wire_answer_becomes_the_golden_vectors(path: Path, data: dict[str, Any]) -> None:
    wire = embed_wire(data)
    tgt = target(data["provider"], data["model"])
    try:
        batch = wire.decode(orjson.dumps(data["body"]), data["count"], tgt)
        actual: Any = {"vectors": batch.vectors, "prompt_tokens": batch.prompt_tokens}
    except GatewayError as err:
        actual = {"error": error_dict(err)}
    check(path, data, actual)


@pytest.mark.parametrize(("path", "data"), cases("embed_refuse"))
def test_what_a_provider_cannot_take_is_refused_by_name(path: Path, data: dict[str, Any]
                                                        ) -> None:
    wire = embed_wire(data)
    with pytest.raises(GatewayError) as err:
        wire.prepare(EmbedCall(model=data["model"], **data["call"]),
                     target(data["provider"], data["model"]), drop=False)
    check(path, data, error_dict(err.value))


@pytest.mark.parametrize(("path", "data"), cases("error"))
def test_error_body_becomes_the_golden_error(path: Path, data: dict[str, Any]) -> None:
    tables = RERANK_WIRES if data.get("rerank") else EMBED_WIRES
    wire = tables[BUILTIN[data["provider"]].wire]()
    body = data["body"] if isinstance(data["body"], str) else orjson.dumps(data["body"]).decode()
    err = wire.map_error(data["status"], data.get("headers", {}), body.encode(),
                         target(data["provider"], data["model"]))
    check(path, data, error_dict(err))


@pytest.mark.parametrize(("path", "data"), cases("rerank_encode"))
def test_rerank_request_becomes_the_golden_wire_request(path: Path, data: dict[str, Any]
                                                        ) -> None:
    wire = rerank_wire(data)
    tgt = target(data["provider"], data["model"])
    call = RerankCall(model=data["model"], **data["call"])
    fields = wire.prepare(call, tgt, drop=False)
    check(path, data, wire_dict(wire.encode(fields, call.query, call.documents, tgt)))


@pytest.mark.parametrize(("path", "data"), cases("rerank_decode"))
def test_rerank_answer_becomes_the_golden_ranking(path: Path, data: dict[str, Any]) -> None:
    wire = rerank_wire(data)
    try:
        batch = wire.decode(orjson.dumps(data["body"]), data["count"],
                            target(data["provider"], data["model"]))
        actual: Any = {"ranked": [[r.index, r.score] for r in batch.ranked],
                       "total_tokens": batch.total_tokens}
    except GatewayError as err:
        actual = {"error": error_dict(err)}
    check(path, data, actual)
