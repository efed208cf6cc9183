"""Bedrock Converse translation against golden files: request → wire, wire → response,
event-stream transcript → chunks, error bodies → errors, refusals, and stream/non-stream parity.

Stream goldens hold readable events (headers + JSON payload); the test frames them with the
fake server's encoder (itself checked by boto3) and feeds the bytes in small slices. Encode
goldens use a bearer API key, so their headers are deterministic; SigV4 is tested separately.
To regenerate the expectations after a deliberate change, run with WAYSTATION_UPDATE_GOLDEN=1
and review the diff. Loading, comparing and stream feeding: tests/providers/golden.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.fakes.bedrock_server import encode_frame
from tests.providers import golden

from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig
from waystation.core.call import ChatCall
from waystation.errors import GatewayError, UnsupportedParameter
from waystation.providers.base import Target
from waystation.providers.bedrock.translate import BedrockAdapter

GOLDEN = Path(__file__).parent / "golden"
NOW = 1732500000.0
ENDPOINT = "https://bedrock-runtime.us-west-2.amazonaws.com"


def adapter() -> BedrockAdapter:
    return BedrockAdapter(credentials=lambda: None, clock=lambda: NOW,
                          new_id=lambda: "chatcmpl-bedrock-golden")


def target(model: str, *, base_url: str = ENDPOINT, region: str = "us-west-2",
           token: str | None = "bedrock-api-key") -> Target:
    provider = ProviderConfig(spec=BUILTIN["bedrock"], base_url=base_url, api_key=token,
                              key_var="AWS_BEARER_TOKEN_BEDROCK", options={"region": region})
    return Target(provider, model, f"bedrock/{model}")


def cases(kind: str) -> list[Any]:
    return golden.kind_params(GOLDEN, kind)


def call_for(body: dict[str, Any], stream: bool = False) -> ChatCall:
    return ChatCall(model=body["model"], stream=stream, include_usage=False, body=body)


def transcript(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_frame(e["headers"], orjson.dumps(e["payload"])) for e in events)


def stream_chunks(raw: bytes, tgt: Target) -> list[dict[str, Any]]:
    """Feed the framed bytes in slices that cut through preludes, headers and payloads."""
    return golden.decode_stream(adapter(), tgt, raw, 13)


@pytest.mark.parametrize(("path", "data"), cases("encode"))
def test_request_becomes_the_golden_wire_request(path: Path, data: dict[str, Any]) -> None:
    tgt = target(data["model"], base_url=data.get("base_url", ENDPOINT),
                 region=data.get("region", "us-west-2"))
    wire = adapter().encode(call_for(data["body"], data["stream"]), tgt, drop_unsupported=False)
    golden.check_expect(path, data, golden.wire_dict(wire))


@pytest.mark.parametrize(("path", "data"), cases("refuse"))
def test_what_bedrock_cannot_take_is_refused_by_name(path: Path, data: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        adapter().encode(call_for(data["body"]), target(data["model"]), drop_unsupported=False)
    assert info.value.param == data["param"]
    assert f"'{data['param']}'" in info.value.message and "'bedrock'" in info.value.message
    assert info.value.status == 400


@pytest.mark.parametrize(("path", "data"), cases("refuse"))
def test_what_bedrock_cannot_take_is_dropped_when_configured(
    path: Path, data: dict[str, Any]
) -> None:
    wire = adapter().encode(call_for(data["body"]), target(data["model"]), drop_unsupported=True)
    sent = wire.body.decode()
    for absent in ("seed", "frequency_penalty", "logprobs", "reasoning_effort", "example.com",
                   "input_audio", "file-123", "bob", "structured_output"):
        assert absent not in sent


@pytest.mark.parametrize(("path", "data"), cases("decode"))
def test_wire_answer_decodes_to_the_golden_response(path: Path, data: dict[str, Any]) -> None:
    raw = orjson.dumps(data["wire"])
    if "raises" in data:
        with pytest.raises(GatewayError) as info:
            adapter().decode(raw, target(data["model"]))
        assert type(info.value).__name__ == data["raises"]
        return
    golden.check_expect(path, data, adapter().decode(raw, target(data["model"])))


@pytest.mark.parametrize(("path", "data"), cases("stream"))
def test_event_stream_decodes_to_the_golden_chunks(path: Path, data: dict[str, Any]) -> None:
    tgt = target(data["model"])
    raw = transcript(data["events"])
    if "raises" in data:
        with pytest.raises(GatewayError) as info:
            stream_chunks(raw, tgt)
        assert type(info.value).__name__ == data["raises"]
        return
    chunks = stream_chunks(raw, tgt)
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]
    golden.check_expect(path, data, chunks)


@pytest.mark.parametrize(("path", "data"), golden.with_parity(cases("stream")))
def test_accumulated_stream_equals_the_non_streamed_answer(
    path: Path, data: dict[str, Any]
) -> None:
    tgt = target(data["model"])
    accumulated = golden.accumulate(stream_chunks(transcript(data["events"]), tgt))
    streamed = {k: v for k, v in accumulated.items() if v is not None}
    assert streamed == adapter().decode(orjson.dumps(data["parity"]), tgt)


def test_error_bodies_map_to_the_golden_errors() -> None:
    def map_error(model: str, status: int, headers: Any, raw: bytes) -> GatewayError:
        return adapter().map_error(status, headers, raw, target(model))

    golden.check_error_cases(GOLDEN / "errors.json", map_error, (
        "status", "code", "type", "retry_after", "retryable", "upstream_status", "message"))
