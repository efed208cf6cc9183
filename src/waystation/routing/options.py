"""The routing settings of one request, as plain data (built by the validator)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_RETRY_CODES = frozenset({429})
DEFAULT_FALLBACK_CODES = frozenset({408, 429, 500, 502, 503, 504, 529})
# The caller's own errors: retrying them cannot help, whatever `on_codes` says.
NEVER_RETRIED = frozenset({400, 401, 403, 404, 422})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    count: int = 0  # extra attempts on the same model
    on_codes: frozenset[int] = DEFAULT_RETRY_CODES


@dataclass(frozen=True, slots=True)
class RoutingOptions:
    balanced: tuple[tuple[str, float], ...] = ()  # (model, weight); empty: the request's model
    fallbacks: tuple[str, ...] = ()
    fallback_on_codes: frozenset[int] = DEFAULT_FALLBACK_CODES
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    call_timeout: float | None = None  # seconds, per attempt

    @property
    def is_default(self) -> bool:
        return not (self.balanced or self.fallbacks or self.retry.count or self.call_timeout)
