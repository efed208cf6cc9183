"""Finish reasons: every answer ends with one of the five values the API defines."""

from __future__ import annotations

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})

_SYNONYMS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "complete": "stop",
    "max_tokens": "length",
    "model_length": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "safety": "content_filter",
}


def normalise_finish_reason(value: object) -> str | None:
    """Map a provider's value onto the five; an unknown non-null value reads as `stop`."""
    if value is None or value in FINISH_REASONS:
        return value
    return _SYNONYMS.get(str(value).lower(), "stop")
