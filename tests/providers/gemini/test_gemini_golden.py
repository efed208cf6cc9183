"""Golden files for the Gemini adapter: each direction of the translation, pinned as JSON.

* golden/encode/*.json  a chat request (validated as the server validates it) → the wire
  request (url, headers, body), or → the 400 it is refused with
* golden/decode/*.json  a `GenerateContentResponse` → the chat completion, or → the error
* golden/stream/*.json  SSE events → the chunks (or the error); with `parity`, the named
  decode case is the same answer unstreamed, and accumulating the chunks must equal it
* golden/errors/*.json  a status, headers and error body → the typed error

Run with WAYSTATION_UPDATE_GOLDEN=1 to rewrite the expected halves after a deliberate change
(then read the diff: the goldens are the specification). Loading, comparing and stream
feeding: tests/providers/golden.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.fakes.gemini_server import camel, check_request
from tests.providers import golden

from waystation.api.validate import parse_chat_request
from waystation.clock import Clock
from waystation.config.catalogue import BUILTIN
from waystation.config.settings import ProviderConfig
from waystation.errors import GatewayError
from waystation.providers.base import Target
from waystation.providers.gemini.translate import GeminiAdapter

GOLDEN = Path(__file__).parent / "golden"
CREATED = 1_700_000_000
BASE_URL = "https://generativelanguage.googleapis.com"


class FixedClock(Clock):
    def now(self) -> float:
        return float(CREATED)

    def ulid(self) -> str:
        return "01HFIXEDULID0000000000000"


def target(model: str = "gemini-2.5-flash") -> Target:
    provider = ProviderConfig(spec=BUILTIN["google"], base_url=BASE_URL,
                              api_key="gemini-test-key", key_var="GEMINI_API_KEY")
    return Target(provider, model, f"google/{model}")


def adapter() -> GeminiAdapter:
    return GeminiAdapter(clock=FixedClock())


def cases(kind: str) -> list[Path]:
    return golden.case_paths(GOLDEN / kind)


def sse(events: list[Any]) -> bytes:
    """Frame events as Gemini does (CRLF); a string event is sent raw."""
    return b"".join(
        e.encode() if isinstance(e, str) else b"data: " + orjson.dumps(e) + b"\r\n\r\n"
        for e in events
    )


def run_stream(case: dict[str, Any]) -> tuple[list[dict[str, Any]], GatewayError | None]:
    """Feed the transcript in small slices, as a network would, then close."""
    tgt = target(case.get("model", "gemini-2.5-flash"))
    return golden.decode_stream_until_error(adapter(), tgt, sse(case["events"]), 37)


@pytest.mark.parametrize("path", cases("encode"), ids=lambda p: p.stem)
def test_encode(path: Path) -> None:
    case = golden.load(path)
    request = {"model": "google/" + case.get("model", "gemini-2.5-flash"), **case["request"]}
    try:
        call = parse_chat_request(orjson.dumps(request))
        wire = adapter().encode(call, target(case.get("model", "gemini-2.5-flash")),
                                drop_unsupported=case.get("drop_unsupported", False))
    except GatewayError as exc:
        golden.check_outcome(path, case, "error", golden.error_dict(exc))
        return
    actual = {"url": wire.url, "headers": dict(wire.headers), "body": orjson.loads(wire.body)}
    golden.check_outcome(path, case, "wire", actual)


@pytest.mark.parametrize(
    "path", [p for p in cases("encode") if "wire" in golden.load(p)], ids=lambda p: p.stem
)
def test_every_encoded_body_passes_the_fake_geminis_checks(path: Path) -> None:
    """The fake refuses what Gemini refuses (unknown fields, lower-case schema types, both
    thinking budget and level, unsigned Gemini 3 calls …): no golden wire body may trip it."""
    case = golden.load(path)
    model = case.get("model", "gemini-2.5-flash").rpartition("/")[2]
    check_request(camel(case["wire"]["body"]), model)


@pytest.mark.parametrize("path", cases("decode"), ids=lambda p: p.stem)
def test_decode(path: Path) -> None:
    case = golden.load(path)
    model = case.get("model", "gemini-2.5-flash")
    try:
        completion = adapter().decode(orjson.dumps(case["response"]), target(model))
    except GatewayError as exc:
        golden.check_outcome(path, case, "error", golden.error_dict(exc))
        return
    golden.check_outcome(path, case, "completion", completion)


@pytest.mark.parametrize("path", cases("stream"), ids=lambda p: p.stem)
def test_stream(path: Path) -> None:
    case = golden.load(path)
    chunks, error = run_stream(case)
    if error is not None:
        golden.check_outcome(path, case, "error",
                             {"after_chunks": len(chunks), **golden.error_dict(error)})
        return
    golden.check_outcome(path, case, "chunks", chunks)


@pytest.mark.parametrize(
    "path", [p for p in cases("stream") if "parity" in golden.load(p)], ids=lambda p: p.stem
)
def test_stream_adds_up_to_the_plain_answer(path: Path) -> None:
    """Parity: the accumulated stream is the completion of the same answer unstreamed."""
    case = golden.load(path)
    chunks, error = run_stream(case)
    assert error is None
    plain = golden.load(GOLDEN / "decode" / f"{case['parity']}.json")
    model = case.get("model", "gemini-2.5-flash")
    assert plain.get("model", "gemini-2.5-flash") == model
    expected = adapter().decode(orjson.dumps(plain["response"]), target(model))
    result = golden.accumulate(chunks)
    assert result.pop("system_fingerprint") is None  # Gemini has none; the accumulator asks
    assert result == expected


@pytest.mark.parametrize("path", cases("errors"), ids=lambda p: p.stem)
def test_error(path: Path) -> None:
    case = golden.load(path)
    raw = golden.body_bytes(case["body"])
    exc = adapter().map_error(case["status"], case.get("headers", {}), raw, target())
    golden.check_outcome(path, case, "error",
                         {**golden.error_dict(exc), "upstream_status": exc.upstream_status})


def test_every_stream_case_with_parity_names_a_decode_case() -> None:
    for path in cases("stream"):
        name = golden.load(path).get("parity")
        if name is not None:
            assert (GOLDEN / "decode" / f"{name}.json").exists(), path.name
