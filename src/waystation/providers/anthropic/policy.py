"""Refusing what Anthropic cannot take: one place builds the 400, or drops when configured.

A caller must never have a parameter silently ignored, so everything the Messages API cannot
express goes through `ParamPolicy.unsupported`: it raises `UnsupportedParameter` naming the
parameter and the provider, unless the operator chose to drop such parameters, in which case
it returns and the caller of it leaves the parameter out.
"""

from __future__ import annotations

from dataclasses import dataclass

from waystation.errors import InvalidRequest, UnsupportedParameter


@dataclass(frozen=True, slots=True)
class ParamPolicy:
    provider: str
    model: str
    drop: bool

    def unsupported(self, param: str, detail: str = "") -> None:
        """Raise for `param`, or return (meaning: drop it) when dropping is configured."""
        if self.drop:
            return
        extra = f" ({detail})" if detail else ""
        raise UnsupportedParameter(
            f"'{param}' is not supported by provider '{self.provider}'{extra}. Remove it, or "
            "set WAYSTATION_DROP_UNSUPPORTED_PARAMS=true to drop such parameters.",
            param=param,
        )

    def invalid(self, param: str, message: str) -> InvalidRequest:
        """A request this provider cannot serve as sent, whatever the drop setting."""
        return InvalidRequest(f"{message} (provider '{self.provider}', model '{self.model}')",
                              param=param)
