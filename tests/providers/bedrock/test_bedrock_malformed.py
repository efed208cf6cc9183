"""Answers and stream events of the wrong shape are upstream errors (502), never crashes (500).

Seeded mutations of the golden answers and stream events replace one part with a value of
another type (tests/providers/malformed.py); decoding must either succeed or raise one of the
gateway's own errors.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.fakes.bedrock_server import encode_frame
from tests.providers import malformed
from tests.providers.bedrock.test_bedrock_golden import adapter, target

from waystation.errors import GatewayError

GOLDEN = Path(__file__).parent / "golden"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def event_lists() -> list[list[dict[str, Any]]]:
    return [json.loads(p.read_text())["events"] for p in sorted(GOLDEN.glob("stream_*.json"))]


def mutate_payload(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"headers": event["headers"], "payload": malformed.mutate(event["payload"], rng)}


@pytest.mark.parametrize("seed", range(6))
def test_malformed_answers_never_crash(seed: int) -> None:
    for wire in malformed.mutated_answers(seed, malformed.golden_answers(GOLDEN)):
        try:
            result = adapter().decode(orjson.dumps(wire), target(MODEL))
        except GatewayError:
            continue
        assert result["choices"][0]["finish_reason"] in malformed.FINISH_REASONS


@pytest.mark.parametrize("seed", range(6))
def test_malformed_stream_events_never_crash(seed: int) -> None:
    for events in malformed.mutated_streams(seed, event_lists(), mutate_payload):
        raw = b"".join(encode_frame(e["headers"], orjson.dumps(e["payload"])) for e in events)
        a = adapter()
        parser, decoder = a.event_parser(), a.stream_decoder(target(MODEL))
        try:
            for frame in parser.feed(raw):
                decoder.feed(frame)
            decoder.close()
        except GatewayError:
            continue
