"""Cohere v2 translation against golden files: request → wire, wire → response, SSE → chunks,
error bodies → errors, refusals, and stream/non-stream parity.

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
from waystation.errors import GatewayError, InvalidRequest, UnsupportedParameter
from waystation.providers.base import Target
from waystation.providers.cohere.translate import CohereAdapter

GOLDEN = Path(__file__).parent / "golden"
NOW = 1732500000.0


def adapter() -> CohereAdapter:
    return CohereAdapter(clock=lambda: NOW)


def target(model: str) -> Target:
    provider = ProviderConfig(spec=BUILTIN["cohere"], base_url="https://api.cohere.com",
                              api_key="co-key", key_var="COHERE_API_KEY")
    return Target(provider, model, f"cohere/{model}")


def cases(kind: str) -> list[Any]:
    return golden.kind_params(GOLDEN, kind)


def call_for(body: dict[str, Any], stream: bool = False) -> ChatCall:
    return ChatCall(model=body["model"], stream=stream, include_usage=False, body=body)


def stream_chunks(transcript: bytes, tgt: Target) -> list[dict[str, Any]]:
    """Feed the transcript in small slices, as the network would."""
    return golden.decode_stream(adapter(), tgt, transcript, 11)


@pytest.mark.parametrize(("path", "data"), cases("encode"))
def test_request_becomes_the_golden_wire_request(path: Path, data: dict[str, Any]) -> None:
    wire = adapter().encode(call_for(data["body"], data["stream"]), target(data["model"]),
                            drop_unsupported=False)
    golden.check_expect(path, data, golden.wire_dict(wire))


@pytest.mark.parametrize(("path", "data"), cases("refuse"))
def test_what_cohere_cannot_take_is_refused_by_name(path: Path, data: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        adapter().encode(call_for(data["body"]), target(data["model"]), drop_unsupported=False)
    assert info.value.param == data["param"]
    assert f"'{data['param']}'" in info.value.message and "'cohere'" in info.value.message
    assert info.value.status == 400


@pytest.mark.parametrize(("path", "data"), cases("refuse"))
def test_what_cohere_cannot_take_is_dropped_when_configured(
    path: Path, data: dict[str, Any]
) -> None:
    wire = adapter().encode(call_for(data["body"]), target(data["model"]), drop_unsupported=True)
    sent = orjson.loads(wire.body)
    top = data["param"].split(".")[0].split("[")[0]
    if top != "messages":
        assert top not in sent
    else:
        assert "input_audio" not in str(sent) and "file_data" not in str(sent)
        assert "alice" not in str(sent)


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
def test_sse_transcript_decodes_to_the_golden_chunks(path: Path, data: dict[str, Any]) -> None:
    tgt = target(data["model"])
    if "raises" in data:
        with pytest.raises(GatewayError) as info:
            stream_chunks(data["transcript"].encode(), tgt)
        assert type(info.value).__name__ == data["raises"]
        return
    chunks = stream_chunks(data["transcript"].encode(), tgt)
    assert all(c["choices"] == [] or c["choices"][0].keys() >= {"delta", "finish_reason"}
               for c in chunks)
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]
    golden.check_expect(path, data, chunks)


def _same_shape(response: dict[str, Any]) -> dict[str, Any]:
    """Erase the two differences the shared accumulator makes by construction: it keeps a
    `system_fingerprint: None` head key, and it collects refusal log probabilities in a list."""
    out = {k: v for k, v in response.items() if v is not None}
    for choice in out["choices"]:
        if choice.get("logprobs"):
            choice["logprobs"]["refusal"] = choice["logprobs"]["refusal"] or None
    return out


@pytest.mark.parametrize(("path", "data"), golden.with_parity(cases("stream")))
def test_accumulated_stream_equals_the_non_streamed_answer(
    path: Path, data: dict[str, Any]
) -> None:
    tgt = target(data["model"])
    streamed = golden.accumulate(stream_chunks(data["transcript"].encode(), tgt))
    decoded = adapter().decode(orjson.dumps(data["parity"]), tgt)
    assert _same_shape(streamed) == _same_shape(decoded)


def test_error_bodies_map_to_the_golden_errors() -> None:
    def map_error(model: str, status: int, headers: Any, raw: bytes) -> GatewayError:
        return adapter().map_error(status, headers, raw, target(model))

    golden.check_error_cases(GOLDEN / "errors.json", map_error, (
        "status", "code", "type", "retry_after", "retryable", "upstream_status", "message"))


def test_named_tool_choice_for_an_unknown_function_is_a_400() -> None:
    body = {"model": "cohere/m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "a"}}],
            "tool_choice": {"type": "function", "function": {"name": "b"}}}
    with pytest.raises(InvalidRequest) as info:
        adapter().encode(call_for(body), target("m"), drop_unsupported=False)
    assert info.value.param == "tool_choice"


def test_fractional_top_k_is_a_400_not_a_rounded_value() -> None:
    body = {"model": "cohere/m", "messages": [{"role": "user", "content": "x"}], "top_k": 2.5}
    with pytest.raises(InvalidRequest) as info:
        adapter().encode(call_for(body), target("m"), drop_unsupported=False)
    assert info.value.param == "top_k"


def test_tool_result_without_call_id_is_a_400() -> None:
    body = {"model": "cohere/m", "messages": [{"role": "tool", "content": "x",
                                               "tool_call_id": None}]}
    with pytest.raises(InvalidRequest) as info:
        adapter().encode(call_for(body), target("m"), drop_unsupported=False)
    assert info.value.param == "messages[0].tool_call_id"
