"""Seeded mutations of golden answers and stream events, for the never-crash tests.

Each mutation replaces one part (never the whole) of a copy with a value of another type.
Decoding what comes out must either succeed or raise one of the gateway's own errors (an
upstream error, 502), never crash (500). The seed makes every failure reproducible.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ODD_VALUES: list[Any] = [None, 0, -1, 1.5, "", "x", True, [], [1], {}, {"a": 1}, [{}], [None]]
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")


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


def golden_answers(golden: Path) -> list[Any]:
    """The wire answers of the `decode_*.json` golden cases."""
    return [json.loads(p.read_text())["wire"] for p in sorted(golden.glob("decode_*.json"))]


def mutated_answers(seed: int, answers: list[Any], rounds: int = 150) -> Iterator[Any]:
    rng = random.Random(seed)
    for _ in range(rounds):
        yield mutate(rng.choice(answers), rng)


def mutated_streams(
    seed: int,
    streams: list[list[Any]],
    mutate_event: Callable[[Any, random.Random], Any] = mutate,
    rounds: int = 60,
) -> Iterator[list[Any]]:
    """Copies of seeded picks from `streams`, each with one event passed through
    `mutate_event`."""
    rng = random.Random(seed)
    for _ in range(rounds):
        events = copy.deepcopy(rng.choice(streams))
        at = rng.randrange(len(events))
        events[at] = mutate_event(events[at], rng)
        yield events
