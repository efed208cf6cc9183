"""`thinking` and `reasoning_effort` → Gemini's `thinkingConfig`.

Gemini 3 and later take a thinking *level*; Gemini 2.5 takes a token *budget* (0 turns
thinking off, -1 lets the model decide). Gemini refuses a request that sets both, so exactly
one is sent. Thoughts are asked for (`includeThoughts`) whenever thinking is on, so that the
answer's reasoning can be surfaced as `reasoning`.

| caller | Gemini 3+ (levels) | Gemini 2.5 and others (budgets) |
|---|---|---|
| `thinking: {type: disabled}` | `thinkingBudget: 0` | `thinkingBudget: 0` |
| `thinking: {type: adaptive}` | `thinkingBudget: -1` | `thinkingBudget: -1` |
| `thinking: {type: enabled, budget_tokens: B}` | `thinkingBudget: B` | `thinkingBudget: B` |
| … with `thinking_level: L` | `thinkingLevel: L` | `thinkingBudget: B` (levels are Gemini 3 only) |
| `reasoning_effort` minimal … xhigh | `thinkingLevel` of that name | refused (minimal, xhigh) |
| `reasoning_effort` none | refused (Gemini 3 always thinks) | `thinkingBudget: 0` |
| `reasoning_effort` low/medium/high | (as above) | `thinkingBudget` 1024/8192/24576 |
| `reasoning_effort` instant/max | refused | refused |

The 2.5 budgets are the ones Google's own OpenAI-compatible endpoint uses for these efforts.
"""

from __future__ import annotations

import re
from typing import Any

from waystation.errors import InvalidRequest, UnsupportedParameter

THINKING_LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
EFFORT_LEVELS = {**THINKING_LEVELS, "xhigh": "XHIGH"}
EFFORT_BUDGETS = {"none": 0, "low": 1024, "medium": 8192, "high": 24576}

_GENERATION = re.compile(r"gemini-(\d+)")


def uses_levels(model: str) -> bool:
    """Gemini 3 and later take thinking levels (and insist on thought signatures)."""
    match = _GENERATION.search(model)
    return match is not None and int(match.group(1)) >= 3


def thinking_config(
    thinking: dict[str, Any] | None,
    effort: str | None,
    *,
    model: str,
    provider: str,
    drop: bool,
) -> dict[str, Any] | None:
    if thinking is not None and effort is not None:
        raise InvalidRequest(
            "Set either 'thinking' or 'reasoning_effort', not both: for provider "
            f"'{provider}' they are the same setting.",
            param="reasoning_effort",
        )
    if thinking is not None:
        return _from_thinking(thinking, model)
    if effort is not None:
        return _from_effort(effort, model, provider, drop)
    return None


def _from_thinking(thinking: dict[str, Any], model: str) -> dict[str, Any]:
    kind = thinking["type"]
    if kind == "disabled":
        return {"thinkingBudget": 0}
    if kind == "adaptive":
        return {"thinkingBudget": -1, "includeThoughts": True}
    level = thinking.get("thinking_level")
    if level is not None and uses_levels(model):
        return {"thinkingLevel": THINKING_LEVELS[level], "includeThoughts": True}
    return {"thinkingBudget": int(thinking["budget_tokens"]), "includeThoughts": True}


def _from_effort(effort: str, model: str, provider: str, drop: bool) -> dict[str, Any] | None:
    if uses_levels(model):
        if effort in EFFORT_LEVELS:
            return {"thinkingLevel": EFFORT_LEVELS[effort], "includeThoughts": True}
        allowed = EFFORT_LEVELS
    else:
        if effort in EFFORT_BUDGETS:
            budget = EFFORT_BUDGETS[effort]
            return {"thinkingBudget": budget, **({"includeThoughts": True} if budget else {})}
        allowed = EFFORT_BUDGETS  # type: ignore[assignment]
    if drop:
        return None
    raise UnsupportedParameter(
        f"reasoning_effort '{effort}' is not supported by provider '{provider}' for model "
        f"'{model}'; use one of: {', '.join(allowed)}.",
        param="reasoning_effort",
    )
