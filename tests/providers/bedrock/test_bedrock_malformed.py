"""Answers and stream events of the wrong shape are upstream errors (502), never crashes (500).

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
from tests.fakes.bedrock_server import encode_frame
from tests.providers.bedrock.test_bedrock_golden import adapter, target

from waystation.errors import GatewayError

GOLDEN = Path(__file__).parent / "golden"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
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
    """A copy of `value` with one part (never the whole) replaced by an odd value."""
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
    return [json.loads(p.read_text())["events"] for p in sorted(GOLDEN.glob("stream_*.json"))]


@pytest.mark.parametrize("seed", range(6))
def test_malformed_answers_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        wire = mutate(rng.choice(answers()), rng)
        try:
            result = adapter().decode(orjson.dumps(wire), target(MODEL))
        except GatewayError:
            continue
        assert result["choices"][0]["finish_reason"] in (
            "stop", "length", "tool_calls", "content_filter")


@pytest.mark.parametrize("seed", range(6))
def test_malformed_stream_events_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        events = copy.deepcopy(rng.choice(event_lists()))
        at = rng.randrange(len(events))
        events[at] = {"headers": events[at]["headers"],
                      "payload": mutate(events[at]["payload"], rng)}
        raw = b"".join(encode_frame(e["headers"], orjson.dumps(e["payload"])) for e in events)
        a = adapter()
        parser, decoder = a.event_parser(), a.stream_decoder(target(MODEL))
        try:
            for frame in parser.feed(raw):
                decoder.feed(frame)
            decoder.close()
        except GatewayError:
            continue
