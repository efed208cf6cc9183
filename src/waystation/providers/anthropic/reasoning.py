"""`thinking`, `reasoning_effort` and `max_tokens`: decided together because they constrain
each other (a thinking budget must stay below `max_tokens`, which Anthropic requires).

`reasoning_effort` mapping (documented in docs/providers/anthropic.md):

* `none` → `thinking: {"type": "disabled"}`.
* On models with Anthropic's effort control (Opus 4.5+, Sonnet 4.6+): `output_config.effort`
  (`minimal`/`instant` → `low`; `low`, `medium`, `high`, `xhigh`, `max` as they are), and,
  unless the caller set `thinking`, thinking switched on: adaptive where the model has it,
  otherwise enabled with the budget below.
* On older thinking models: `thinking: {"type": "enabled", "budget_tokens": BUDGETS[effort]}`.
  With an explicit `thinking` as well there is nothing left for the effort to say, so it is
  refused as unsupported rather than quietly ignored.

`max_tokens` when the caller sets none: 4096 without thinking, budget + 4096 with a budget,
16384 with adaptive thinking, so the answer always has room after the thinking.
"""

from __future__ import annotations

from typing import Any

from waystation.providers.anthropic.policy import ParamPolicy
from waystation.providers.anthropic.profiles import ModelProfile

DEFAULT_MAX_TOKENS = 4096
ANSWER_ROOM = 4096  # added to a thinking budget when the caller gave no max_tokens
ADAPTIVE_MAX_TOKENS = 16384
MIN_BUDGET = 1024

EFFORT_LEVELS = {
    "minimal": "low",
    "instant": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
BUDGETS = {
    "minimal": 1024,
    "instant": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 24576,
}


def apply_reasoning(
    body: dict[str, Any], wire: dict[str, Any], profile: ModelProfile, policy: ParamPolicy
) -> bool:
    """Set `thinking`, `output_config.effort` and `max_tokens`; True if thinking is on."""
    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    thinking = _caller_thinking(body.get("thinking"), policy)
    effort = body.get("reasoning_effort")
    if effort is not None:
        thinking = _from_effort(effort, thinking, limit, wire, profile, policy)
    if thinking is not None:
        wire["thinking"] = thinking
    wire["max_tokens"] = limit if limit is not None else _default_max_tokens(thinking)
    return thinking is not None and thinking["type"] != "disabled"


def _caller_thinking(value: Any, policy: ParamPolicy) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value["type"]
    if kind != "enabled":
        return {"type": kind}
    if value.get("thinking_level") is not None:
        policy.unsupported("thinking.thinking_level", "Claude takes thinking.budget_tokens")
    return {"type": "enabled", "budget_tokens": int(value["budget_tokens"])}


def _from_effort(
    effort: str,
    thinking: dict[str, Any] | None,
    limit: int | None,
    wire: dict[str, Any],
    profile: ModelProfile,
    policy: ParamPolicy,
) -> dict[str, Any] | None:
    """The thinking config once `reasoning_effort` is applied (see the module docstring)."""
    if effort == "none":
        if thinking is not None and thinking["type"] != "disabled":
            raise policy.invalid("reasoning_effort", "reasoning_effort 'none' contradicts thinking")
        return {"type": "disabled"}
    if profile.effort:
        wire.setdefault("output_config", {})["effort"] = EFFORT_LEVELS[effort]
        if thinking is not None:
            return thinking
        if profile.adaptive_thinking:
            return {"type": "adaptive"}
        return {"type": "enabled", "budget_tokens": _budget(effort, limit, policy)}
    if thinking is not None:
        policy.unsupported(
            "reasoning_effort", "this model takes either thinking or reasoning_effort, not both"
        )
        return thinking
    return {"type": "enabled", "budget_tokens": _budget(effort, limit, policy)}


def _budget(effort: str, limit: int | None, policy: ParamPolicy) -> int:
    """The effort's budget, kept below the caller's max_tokens (half of it at most)."""
    budget = BUDGETS[effort]
    if limit is None:
        return budget
    budget = min(budget, max(MIN_BUDGET, limit // 2))
    if budget >= limit:
        raise policy.invalid(
            "max_tokens",
            f"reasoning_effort needs max_tokens above {MIN_BUDGET} (thinking needs at least "
            f"{MIN_BUDGET} tokens); raise max_tokens or set reasoning_effort to 'none'",
        )
    return budget


def _default_max_tokens(thinking: dict[str, Any] | None) -> int:
    if thinking is None or thinking["type"] == "disabled":
        return DEFAULT_MAX_TOKENS
    if thinking["type"] == "enabled":
        return int(thinking["budget_tokens"]) + ANSWER_ROOM
    return ADAPTIVE_MAX_TOKENS
