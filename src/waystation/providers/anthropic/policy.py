"""Refusing what Anthropic cannot take: one place builds the 400, or drops when configured.

A caller must never have a parameter silently ignored, so everything the Messages API cannot
express goes through `ParamPolicy.unsupported`: it raises `UnsupportedParameter` naming the
parameter and the provider (worded as for every provider, `providers.refusals`), unless the
operator chose to drop such parameters, in which case it returns and the caller of it leaves
the parameter out.
"""

from __future__ import annotations

from dataclasses import dataclass

from waystation.errors import InvalidRequest
from waystation.providers.refusals import unsupported_parameter


@dataclass(frozen=True, slots=True)
class ParamPolicy:
    provider: str
    model: str
    drop: bool

    def unsupported(self, param: str, detail: str = "") -> None:
        """Raise for `param`, or return (meaning: drop it) when dropping is configured."""
        if self.drop:
            return
        raise unsupported_parameter(param, self.provider, f" ({detail})" if detail else "")

    def invalid(self, param: str, message: str) -> InvalidRequest:
        """A request this provider cannot serve as sent, whatever the drop setting."""
        return InvalidRequest(f"{message} (provider '{self.provider}', model '{self.model}')",
                              param=param)
