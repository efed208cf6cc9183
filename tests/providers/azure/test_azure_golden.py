"""Azure OpenAI translation against golden files: request → wire, wire → response, SSE → chunks,
error bodies → errors, and stream/non-stream parity.

Each `golden/*.json` holds an input and the expected output under `expect`. To regenerate the
expectations after a deliberate change, run with WAYSTATION_UPDATE_GOLDEN=1 and review the diff.
Loading, comparing and stream feeding: tests/providers/golden.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.providers import golden

from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig
from waystation.core.call import ChatCall
from waystation.errors import GatewayError, ProviderNotConfigured, UnsupportedParameter
from waystation.providers.azure.translate import AzureAdapter
from waystation.providers.base import Target

GOLDEN = Path(__file__).parent / "golden"
ENDPOINT = "https://contoso.openai.azure.com"


def target(model: str, *, base_url: str = ENDPOINT, options: dict[str, str] | None = None,
           api_key: str | None = "azure-key") -> Target:
    provider = ProviderConfig(
        spec=BUILTIN["azure"], base_url=base_url, api_key=api_key,
        key_var="AZURE_OPENAI_API_KEY", options=options or {"api_version": "2024-10-21"},
    )
    return Target(provider, model, f"azure/{model}")


def cases(kind: str) -> list[Any]:
    return golden.kind_params(GOLDEN, kind)


def stream_chunks(adapter: AzureAdapter, tgt: Target, transcript: bytes) -> list[dict[str, Any]]:
    return golden.decode_stream(adapter, tgt, transcript, 7)


@pytest.mark.parametrize(("path", "data"), cases("encode"))
def test_request_becomes_the_golden_wire_request(path: Path, data: dict[str, Any]) -> None:
    tgt = target(data["model"], base_url=data.get("base_url", ENDPOINT),
                 options=data.get("options"))
    call = ChatCall(model=data["body"]["model"], stream=data["stream"], include_usage=False,
                    body=data["body"])
    wire = AzureAdapter().encode(call, tgt, drop_unsupported=False)
    golden.check_expect(path, data, golden.wire_dict(wire))


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
    golden.check_expect(path, data, AzureAdapter().decode(orjson.dumps(data["wire"]), tgt))


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
    golden.check_expect(path, data, chunks)


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    """What both paths must agree on (Azure's filter annotations are not part of the answer)."""
    choices = []
    for choice in response["choices"]:
        message = {k: v for k, v in choice["message"].items() if v is not None}
        choices.append({"index": choice["index"], "finish_reason": choice["finish_reason"],
                        "message": message})
    keys = ("id", "object", "created", "model", "system_fingerprint", "usage")
    return {**{k: response.get(k) for k in keys}, "choices": choices}


@pytest.mark.parametrize(("path", "data"), golden.with_parity(cases("stream")))
def test_accumulated_stream_equals_the_non_streamed_answer(
    path: Path, data: dict[str, Any]
) -> None:
    adapter, tgt = AzureAdapter(), target(data["model"])
    streamed = golden.accumulate(stream_chunks(adapter, tgt, data["transcript"].encode()))
    decoded = adapter.decode(orjson.dumps(data["parity"]), tgt)
    assert _comparable(streamed) == _comparable(decoded)


def test_error_bodies_map_to_the_golden_errors() -> None:
    def map_error(model: str, status: int, headers: Any, raw: bytes) -> GatewayError:
        return AzureAdapter().map_error(status, headers, raw, target(model))

    golden.check_error_cases(GOLDEN / "errors.json", map_error, (
        "status", "code", "type", "param", "retry_after", "retryable", "message"))


def test_missing_endpoint_is_reported_as_not_configured() -> None:
    call = ChatCall(model="azure/x", stream=False, include_usage=False,
                    body={"model": "azure/x", "messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(ProviderNotConfigured) as info:
        AzureAdapter().encode(call, target("x", base_url=""), drop_unsupported=False)
    assert "AZURE_OPENAI_ENDPOINT" in info.value.message
    assert info.value.status == 503
