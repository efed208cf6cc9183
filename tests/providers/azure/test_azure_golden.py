"""Azure OpenAI translation against golden files: request → wire, wire → response, SSE → chunks,
error bodies → errors, and stream/non-stream parity.

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
from waystation.core.accumulate import StreamAccumulator
from waystation.core.call import ChatCall
from waystation.errors import GatewayError, ProviderNotConfigured, UnsupportedParameter
from waystation.providers.azure.translate import AzureAdapter
from waystation.providers.base import Target

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("WAYSTATION_UPDATE_GOLDEN") == "1"
ENDPOINT = "https://contoso.openai.azure.com"


def target(model: str, *, base_url: str = ENDPOINT, options: dict[str, str] | None = None,
           api_key: str | None = "azure-key") -> Target:
    provider = ProviderConfig(
        spec=BUILTIN["azure"], base_url=base_url, api_key=api_key,
        key_var="AZURE_OPENAI_API_KEY", options=options or {"api_version": "2024-10-21"},
    )
    return Target(provider, model, f"azure/{model}")


def cases(kind: str) -> list[Any]:
    out = []
    for path in sorted(GOLDEN.glob("*.json")):
        data = json.loads(path.read_text())
        if data["kind"] == kind:
            out.append(pytest.param(path, data, id=path.stem))
    return out


def check(path: Path, data: dict[str, Any], actual: Any) -> None:
    """Compare with the stored expectation (or store it when updating)."""
    actual = json.loads(orjson.dumps(actual))
    if UPDATE:
        data["expect"] = actual
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    assert "expect" in data, f"{path.name} has no expectation yet"
    assert actual == data["expect"]


def stream_chunks(adapter: AzureAdapter, tgt: Target, transcript: bytes) -> list[dict[str, Any]]:
    """Feed the transcript in small slices, as the network would."""
    parser = adapter.event_parser()
    decoder = adapter.stream_decoder(tgt)
    chunks: list[dict[str, Any]] = []
    for i in range(0, len(transcript), 7):
        for event in parser.feed(transcript[i:i + 7]):
            chunks.extend(decoder.feed(event))
    for event in parser.close():
        chunks.extend(decoder.feed(event))
    chunks.extend(decoder.close())
    return chunks


@pytest.mark.parametrize(("path", "data"), cases("encode"))
def test_request_becomes_the_golden_wire_request(path: Path, data: dict[str, Any]) -> None:
    tgt = target(data["model"], base_url=data.get("base_url", ENDPOINT),
                 options=data.get("options"))
    call = ChatCall(model=data["body"]["model"], stream=data["stream"], include_usage=False,
                    body=data["body"])
    wire = AzureAdapter().encode(call, tgt, drop_unsupported=False)
    check(path, data, {"method": wire.method, "url": wire.url, "headers": dict(wire.headers),
                       "body": orjson.loads(wire.body)})


@pytest.mark.parametrize(("path", "data"), cases("refuse"))
def test_parameter_azure_cannot_take_is_refused_by_name(path: Path, data: dict[str, Any]) -> None:
    call = ChatCall(model="azure/x", stream=False, include_usage=False, body=data["body"])
    with pytest.raises(UnsupportedParameter) as info:
        AzureAdapter().encode(call, target(data["model"]), drop_unsupported=False)
    assert info.value.param == data["param"]
    assert data["param"] in info.value.message and "azure" in info.value.message
    assert info.value.status == 400


@pytest.mark.parametrize(("path", "data"), cases("refuse"))
def test_parameter_is_dropped_when_configured(path: Path, data: dict[str, Any]) -> None:
    call = ChatCall(model="azure/x", stream=False, include_usage=False, body=data["body"])
    wire = AzureAdapter().encode(call, target(data["model"]), drop_unsupported=True)
    assert data["param"] not in orjson.loads(wire.body)


@pytest.mark.parametrize(("path", "data"), cases("decode"))
def test_wire_answer_decodes_to_the_golden_response(path: Path, data: dict[str, Any]) -> None:
    tgt = target(data["model"])
    check(path, data, AzureAdapter().decode(orjson.dumps(data["wire"]), tgt))


@pytest.mark.parametrize(("path", "data"), cases("stream"))
def test_sse_transcript_decodes_to_the_golden_chunks(path: Path, data: dict[str, Any]) -> None:
    adapter, tgt = AzureAdapter(), target(data["model"])
    transcript = data["transcript"].encode()
    if "raises" in data:
        with pytest.raises(GatewayError) as info:
            stream_chunks(adapter, tgt, transcript)
        assert type(info.value).__name__ == data["raises"]
        return
    chunks = stream_chunks(adapter, tgt, transcript)
    assert all(c["id"] and c["model"] == tgt.public_model for c in chunks)
    check(path, data, chunks)


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    """What both paths must agree on (Azure's filter annotations are not part of the answer)."""
    choices = []
    for choice in response["choices"]:
        message = {k: v for k, v in choice["message"].items() if v is not None}
        choices.append({"index": choice["index"], "finish_reason": choice["finish_reason"],
                        "message": message})
    keys = ("id", "object", "created", "model", "system_fingerprint", "usage")
    return {**{k: response.get(k) for k in keys}, "choices": choices}


@pytest.mark.parametrize(("path", "data"), [c for c in cases("stream") if "parity" in c.values[1]])
def test_accumulated_stream_equals_the_non_streamed_answer(
    path: Path, data: dict[str, Any]
) -> None:
    adapter, tgt = AzureAdapter(), target(data["model"])
    acc = StreamAccumulator()
    for chunk in stream_chunks(adapter, tgt, data["transcript"].encode()):
        acc.add(chunk)
    decoded = adapter.decode(orjson.dumps(data["parity"]), tgt)
    assert _comparable(acc.result()) == _comparable(decoded)


def test_error_bodies_map_to_the_golden_errors() -> None:
    path = GOLDEN / "errors.json"
    data = json.loads(path.read_text())
    tgt = target(data["model"])
    out = []
    for case in data["cases"]:
        body = case["body"]
        raw = body.encode() if isinstance(body, str) else orjson.dumps(body)
        err = AzureAdapter().map_error(case["status"], case["headers"], raw, tgt)
        out.append({"class": type(err).__name__, "status": err.status, "code": err.code,
                    "type": err.type, "param": err.param, "retry_after": err.retry_after,
                    "retryable": err.retryable, "message": err.message})
    check(path, data, out)


def test_missing_endpoint_is_reported_as_not_configured() -> None:
    call = ChatCall(model="azure/x", stream=False, include_usage=False,
                    body={"model": "azure/x", "messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(ProviderNotConfigured) as info:
        AzureAdapter().encode(call, target("x", base_url=""), drop_unsupported=False)
    assert "AZURE_OPENAI_ENDPOINT" in info.value.message
    assert info.value.status == 503
