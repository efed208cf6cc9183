"""Answers of the wrong shape are upstream errors (502), never crashes (500).

Seeded mutations of the golden answers and stream events replace one part with a value of
another type; decoding must either succeed or raise one of the gateway's own errors.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.providers.cohere.test_cohere_golden import adapter, target

from waystation.errors import GatewayError
from waystation.transport.sse import SSEEvent

GOLDEN = Path(__file__).parent / "golden"
ODD_VALUES: list[Any] = [None, 0, -1, 1.5, "", "x", True, [], [1], {}, {"a": 1}, [{}], [None]]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def mutate(value: Any, rng: random.Random) -> Any:
    value = copy.deepcopy(value)
    path = rng.choice(paths(value)[1:] or [()])
    if not path:
        return rng.choice(ODD_VALUES)
    node = value
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = rng.choice(ODD_VALUES)
    return value


def answers() -> list[dict[str, Any]]:
    return [json.loads(p.read_text())["wire"] for p in sorted(GOLDEN.glob("decode_*.json"))]


def event_lists() -> list[list[dict[str, Any]]]:
    out = []
    for p in sorted(GOLDEN.glob("stream_*.json")):
        text = json.loads(p.read_text())["transcript"]
        out.append([json.loads(line[6:]) for line in text.splitlines()
                    if line.startswith("data: ")])
    return out


@pytest.mark.parametrize("seed", range(6))
def test_malformed_answers_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    tgt = target("command-a-03-2025")
    for _ in range(150):
        wire = mutate(rng.choice(answers()), rng)
        try:
            result = adapter().decode(orjson.dumps(wire), tgt)
        except GatewayError:
            continue
        assert result["choices"][0]["finish_reason"] in (
            "stop", "length", "tool_calls", "content_filter")


@pytest.mark.parametrize("seed", range(6))
def test_malformed_stream_events_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    tgt = target("command-a-03-2025")
    for _ in range(60):
        events = copy.deepcopy(rng.choice(event_lists()))
        at = rng.randrange(len(events))
        events[at] = mutate(events[at], rng)
        decoder = adapter().stream_decoder(tgt)
        try:
            for event in events:
                decoder.feed(SSEEvent(orjson.dumps(event).decode()))
            decoder.close()
        except GatewayError:
            continue
