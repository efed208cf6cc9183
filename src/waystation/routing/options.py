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
    # the request field naming each planned model but the request's own, for errors
    params: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Made once per options: options are shared by requests with the same settings."""
        params: dict[str, str] = {}
        for i, (model, _) in enumerate(self.balanced):
            params.setdefault(model, f"load_balancer.models[{i}].model")
        for i, model in enumerate(self.fallbacks):
            params.setdefault(model, f"fallbacks[{i}].model")
        object.__setattr__(self, "params", params)

    @property
    def is_default(self) -> bool:
        return not (self.balanced or self.fallbacks or self.retry.count or self.call_timeout)
