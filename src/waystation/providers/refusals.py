"""One way to say "the provider cannot take this": a named 400, or a drop when configured.

A caller must never have a parameter silently ignored. What a wire format cannot express is
refused with `UnsupportedParameter` (400), naming the parameter and the provider, unless the
operator chose WAYSTATION_DROP_UNSUPPORTED_PARAMS: then the value is dropped, never sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from waystation.errors import UnsupportedParameter

DROP_HINT = "Remove it, or set WAYSTATION_DROP_UNSUPPORTED_PARAMS=true to drop such parameters."


def unsupported_parameter(param: str, provider: str, reason: str = "") -> UnsupportedParameter:
    """The 400 for `param`; `reason` follows the provider's name as written (": why", " (why)")."""
    return UnsupportedParameter(
        f"'{param}' is not supported by provider '{provider}'{reason}. {DROP_HINT}", param=param
    )


@dataclass(frozen=True, slots=True)
class Refusals:
    """What to do with a value the provider cannot take, for one request."""

    provider: str
    drop_unsupported: bool

    def refuse(self, param: str, what: str) -> None:
        """Raise `UnsupportedParameter` naming `param` and the provider, unless dropping is on.

        Returning (instead of raising) tells the caller to leave the value out: the operator
        chose WAYSTATION_DROP_UNSUPPORTED_PARAMS, so the value is dropped, never sent.
        """
        if self.drop_unsupported:
            return
        raise unsupported_parameter(param, self.provider, f": {what}")
