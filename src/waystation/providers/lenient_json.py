"""Readers that take a provider's JSON as it comes: a part of the wrong type reads as absent.

The decoders read answers and stream events through these, so an answer of an unexpected shape
never crashes the gateway; what is left is checked where it matters (a missing message is an
upstream error).
"""

from __future__ import annotations

from typing import Any


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
