"""Golden files for the Anthropic adapter: each direction of the translation, pinned as JSON.

* golden/encode/*.json  a chat request (validated as the server validates it) → the wire body,
  or → the 400 it is refused with
* golden/decode/*.json  an Anthropic Message → the chat completion
* golden/stream/*.json  an event transcript → the chunks (or the error), and, where named,
  the parity check: the accumulated stream equals the decoded non-streamed answer
* golden/errors/*.json  a status, headers and error body → the typed error

Run with WAYSTATION_UPDATE_GOLDEN=1 to rewrite the expected halves after a deliberate change
(then read the diff). Loading, comparing and stream feeding: tests/providers/golden.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.providers import golden

from waystation.api.validate import parse_chat_request
from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig
from waystation.errors import GatewayError
from waystation.providers.anthropic.translate import AnthropicAdapter
from waystation.providers.base import Target

GOLDEN = Path(__file__).parent / "golden"
CREATED = 1_700_000_000


def target(model: str = "claude-sonnet-4-5") -> Target:
    provider = ProviderConfig(
        spec=BUILTIN["anthropic"], base_url="https://api.anthropic.com", api_key="sk-ant-test",
        key_var="ANTHROPIC_API_KEY", options={"anthropic_version": "2023-06-01"},
    )
    return Target(provider, model, f"anthropic/{model}")


def adapter() -> AnthropicAdapter:
    return AnthropicAdapter(clock=lambda: float(CREATED))


def cases(kind: str) -> list[Path]:
    return golden.case_paths(GOLDEN / kind)


@pytest.mark.parametrize("path", cases("encode"), ids=lambda p: p.stem)
def test_encode(path: Path) -> None:
    case = golden.load(path)
    call = parse_chat_request(orjson.dumps(case["request"]))
    try:
        wire = adapter().encode(call, target(case.get("model", "claude-sonnet-4-5")),
                                drop_unsupported=case.get("drop_unsupported", False))
    except GatewayError as exc:
        golden.check_outcome(path, case, "error", golden.error_dict(exc))
        return
    golden.check_outcome(path, case, "wire", orjson.loads(wire.body))


@pytest.mark.parametrize("path", cases("decode"), ids=lambda p: p.stem)
def test_decode(path: Path) -> None:
    case = golden.load(path)
    model = case.get("model", "claude-sonnet-4-5")
    got = adapter().decode(orjson.dumps(case["response"]), target(model))
    golden.check_outcome(path, case, "completion", got)


def run_stream(case: dict[str, Any]) -> tuple[list[dict[str, Any]], GatewayError | None]:
    """Frame the transcript as SSE, cut it into awkward slices, and decode it."""
    raw = b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
        for e in case["events"]
    )
    tgt = target(case.get("model", "claude-sonnet-4-5"))
    return golden.decode_stream_until_error(adapter(), tgt, raw, 37)


@pytest.mark.parametrize("path", cases("stream"), ids=lambda p: p.stem)
def test_stream(path: Path) -> None:
    case = golden.load(path)
    chunks, exc = run_stream(case)
    if exc is not None:
        golden.check_outcome(path, case, "error", golden.error_dict(exc))
        return
    golden.check_outcome(path, case, "chunks", chunks)
    for chunk in chunks:
        assert chunk["model"] == "anthropic/" + case.get("model", "claude-sonnet-4-5")
        for choice in chunk["choices"]:
            assert "finish_reason" in choice
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]
    assert chunks[-2]["choices"][0]["finish_reason"] is not None


@pytest.mark.parametrize(
    "path", [p for p in cases("stream") if "parity_with" in golden.load(p)], ids=lambda p: p.stem
)
def test_stream_accumulates_to_the_decoded_answer(path: Path) -> None:
    case = golden.load(path)
    decoded = golden.load(GOLDEN / case["parity_with"])
    chunks, exc = run_stream(case)
    assert exc is None
    streamed = golden.accumulate(chunks)
    if streamed.get("system_fingerprint") is None:
        streamed.pop("system_fingerprint", None)
    expected = adapter().decode(orjson.dumps(decoded["response"]), target())
    assert streamed == expected


@pytest.mark.parametrize("path", cases("errors"), ids=lambda p: p.stem)
def test_error(path: Path) -> None:
    case = golden.load(path)
    raw = golden.body_bytes(case["body"])
    exc = adapter().map_error(case["status"], case.get("headers", {}), raw, target())
    golden.check_outcome(path, case, "error", golden.error_dict(exc))
