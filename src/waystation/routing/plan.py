"""Which models to try, in which order: pure, with the random source injected."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from waystation.routing.options import RoutingOptions

IsCooled = Callable[[str], bool]


def weighted_choice(
    entries: Sequence[tuple[str, float]], rng: random.Random, is_cooled: IsCooled
) -> str:
    """Pick one model with probability proportional to its weight, skipping cooled-down models
    unless every one of them is cooling down (then the weights decide among all)."""
    healthy = [(m, w) for m, w in entries if not is_cooled(m)] or list(entries)
    total = sum(w for _, w in healthy)
    point = rng.random() * total
    for model, weight in healthy:
        point -= weight
        if point < 0:
            return model
    return healthy[-1][0]


def plan_models(
    requested: str, options: RoutingOptions, rng: random.Random, is_cooled: IsCooled
) -> list[str]:
    """The ordered list of models to attempt (each with its retries).

    A load balancer replaces the request's model; fallbacks follow in their order. A model that
    is cooling down goes after the healthy ones, so it is still tried when nothing else works.
    """
    first = weighted_choice(options.balanced, rng, is_cooled) if options.balanced else requested
    order = [first]
    for model in options.fallbacks:
        if model not in order:
            order.append(model)
    healthy: list[str] = []
    cooled: list[str] = []
    for model in order:  # one health check per model: this runs for every request
        (cooled if is_cooled(model) else healthy).append(model)
    return healthy + cooled if cooled else healthy
