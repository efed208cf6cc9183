"""Whether a request asked for the cache, and for how long its answer may be kept.

The orq API turns the cache on per request: `"cache": {"type": "exact_match", "ttl": …}` at the
top level (newer SDKs) or inside the `orq` object (older ones); the top-level one wins, as for
every feature given in both places. Validation has already checked the type and the ttl range;
the SDK sends its own default ttl (1800 or 3600 s) even when the caller set none, so a ttl that
arrives is simply used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_TTL = 1800.0
"""Seconds an answer is kept when the request names no ttl (the orq documentation's default)."""
MAX_TTL = 259200.0
"""Three days: the most the orq API allows (validation refuses more; enforced here again)."""


def requested_ttl(data: Mapping[str, Any]) -> float | None:
    """The ttl in seconds when the raw request body asks for caching, else None."""
    spec = data.get("cache")
    if spec is None:
        orq = data.get("orq")
        spec = orq.get("cache") if isinstance(orq, Mapping) else None
    if not isinstance(spec, Mapping) or spec.get("type") != "exact_match":
        return None
    return ttl_seconds(spec.get("ttl"))


def ttl_seconds(ttl: float | None) -> float:
    """A requested ttl made usable: the default when absent, never beyond the maximum."""
    if ttl is None or ttl <= 0:
        return DEFAULT_TTL
    return min(float(ttl), MAX_TTL)
