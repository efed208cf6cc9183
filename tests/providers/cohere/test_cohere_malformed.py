"""Answers of the wrong shape are upstream errors (502), never crashes (500).

Seeded mutations of the golden answers and stream events replace one part with a value of
another type (tests/providers/malformed.py); decoding must either succeed or raise one of the
gateway's own errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.providers import malformed
from tests.providers.cohere.test_cohere_golden import adapter, target

from waystation.errors import GatewayError
from waystation.transport.sse import SSEEvent

GOLDEN = Path(__file__).parent / "golden"


def event_lists() -> list[list[dict[str, Any]]]:
    out = []
    for p in sorted(GOLDEN.glob("stream_*.json")):
        text = json.loads(p.read_text())["transcript"]
        out.append([json.loads(line[6:]) for line in text.splitlines()
                    if line.startswith("data: ")])
    return out


@pytest.mark.parametrize("seed", range(6))
def test_malformed_answers_never_crash(seed: int) -> None:
    tgt = target("command-a-03-2025")
    for wire in malformed.mutated_answers(seed, malformed.golden_answers(GOLDEN)):
        try:
            result = adapter().decode(orjson.dumps(wire), tgt)
        except GatewayError:
            continue
        assert result["choices"][0]["finish_reason"] in malformed.FINISH_REASONS


@pytest.mark.parametrize("seed", range(6))
def test_malformed_stream_events_never_crash(seed: int) -> None:
    tgt = target("command-a-03-2025")
    for events in malformed.mutated_streams(seed, event_lists()):
        decoder = adapter().stream_decoder(tgt)
        try:
            for event in events:
                decoder.feed(SSEEvent(orjson.dumps(event).decode()))
            decoder.close()
        except GatewayError:
            continue
