"""One way to say "the provider cannot take this": a named 400, or a drop when configured."""

from __future__ import annotations

from dataclasses import dataclass

from waystation.errors import UnsupportedParameter


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
        raise UnsupportedParameter(
            f"'{param}' is not supported by provider '{self.provider}': {what}. Remove it, or "
            "set WAYSTATION_DROP_UNSUPPORTED_PARAMS=true to drop such parameters.",
            param=param,
        )
