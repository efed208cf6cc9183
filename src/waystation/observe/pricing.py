"""What a request cost, from its token usage and the price table.

The table is data (`waystation/data/prices.json`, per `provider/model`, US dollars per million
tokens) so that prices can be kept current without touching code, and an operator can add or
correct models with `WAYSTATION_PRICES_FILE`. A model the table does not know costs `None`,
never 0: an unknown price must not read as "free" in usage reports.

Usage follows the chat-completions convention, which every adapter produces: `prompt_tokens`
includes cached and cache-written tokens, `completion_tokens` includes reasoning tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")
_MILLION = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million tokens of each kind."""

    input: float
    output: float
    cached_input: float | None = None  # None: cached tokens cost the input price
    cache_write: float | None = None  # None: written tokens cost the input price
    reasoning: float | None = None  # None: reasoning tokens cost the output price


class Cost(NamedTuple):
    """The dollar cost of one request, by kind of token (a tuple: one is made per request, and a
    frozen dataclass takes three times as long to build)."""

    input: float
    cached_input: float
    cache_write: float
    output: float
    reasoning: float

    @property
    def total(self) -> float:
        return self.input + self.cached_input + self.cache_write + self.output + self.reasoning

    def parts(self) -> dict[str, Any]:
        """The parts and the total in US dollars, unrounded: as a stored trace keeps them."""
        paid, cached, written, output, reasoning = self
        return {
            "input": paid,
            "cached_input": cached,
            "cache_write": written,
            "output": output,
            "reasoning": reasoning,
            "total": paid + cached + written + output + reasoning,
            "currency": "USD",
        }

    def as_dict(self) -> dict[str, float | str]:
        """The parts and the total, rounded (`round_parts`): as the API shows a cost."""
        return round_parts(self.parts())


def round_parts(parts: dict[str, Any]) -> dict[str, Any]:
    """`parts` (as `Cost.parts` makes them) with every amount rounded by `round_money`, in
    place; the currency stays as it is."""
    for key, value in parts.items():
        if isinstance(value, float):
            parts[key] = round_money(value)
    return parts


FREE = Cost(0.0, 0.0, 0.0, 0.0, 0.0)


def round_money(value: float) -> float:
    """`value` to 10 decimal places.

    `round(value, 10)` goes through a correctly rounded decimal conversion, and with several
    parts of a cost per request it was a tenth of what storing a trace cost. Scaling, rounding
    to an integer and scaling back gives the same float but where the scaled value lies within
    a rounding error of a half (it may then round the other way), which no price makes matter.
    """
    if 0 < value < 1e9:  # round_to's usual case, inline: it runs for most parts of every cost
        return int(value * 1e10 + 0.5) / 1e10
    return round_to(value, 1e10)


def round_to(value: float, scale: float) -> float:
    """`value` rounded to a multiple of 1/`scale` (half away from zero); 0.0 for zero, and
    infinities and NaN as they are."""
    try:
        if value > 0:
            return int(value * scale + 0.5) / scale
        if value < 0:
            return -int(-value * scale + 0.5) / scale
    except OverflowError:
        return value
    return 0.0 if value == 0 else value


class TokenCounts(NamedTuple):
    """The token counts that pricing, metrics and the store all read from a usage object (a
    tuple, like `Cost`: read once per request)."""

    prompt: int = 0
    completion: int = 0
    total: int = 0
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0

    @classmethod
    def of(cls, usage: Mapping[str, Any] | None) -> TokenCounts:
        if not usage:
            return _NO_TOKENS
        prompt = _int(usage.get("prompt_tokens"))
        completion = _int(usage.get("completion_tokens"))
        total = _int(usage.get("total_tokens")) or prompt + completion
        pd = usage.get("prompt_tokens_details")
        cd = usage.get("completion_tokens_details")
        pd = pd if type(pd) is dict or isinstance(pd, Mapping) else _EMPTY
        cd = cd if type(cd) is dict or isinstance(cd, Mapping) else _EMPTY
        return cls(prompt, completion, total, _int(pd.get("cached_tokens")),
                   _int(pd.get("cache_creation_tokens")), _int(cd.get("reasoning_tokens")))


_NO_TOKENS = TokenCounts()
_EMPTY: Mapping[str, Any] = {}


def _int(value: Any) -> int:
    if type(value) is int:  # the common case, checked first: this runs on the hot path
        return value if value > 0 else 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


class PriceTable:
    """Prices by `provider/model`, with aliases and dated model names resolved."""

    def __init__(
        self,
        prices: Mapping[str, Price],
        *,
        aliases: Mapping[str, str] | None = None,
        provider_aliases: Mapping[str, str] | None = None,
        as_of: str | None = None,
    ) -> None:
        self._prices = dict(prices)
        self._aliases = dict(aliases or {})
        self._providers = dict(provider_aliases or {})
        self.as_of = as_of
        self._found: dict[str, Price | None] = {}

    @classmethod
    def load(
        cls, extra_file: str | Path | None = None, provider_aliases: Mapping[str, str] | None = None
    ) -> PriceTable:
        """The built-in table, with an operator's file (same format) laid over it."""
        text = resources.files("waystation").joinpath("data/prices.json").read_text("utf-8")
        data = json.loads(text)
        prices = _parse_models(data.get("models") or {})
        aliases = dict(data.get("aliases") or {})
        if extra_file:
            extra = json.loads(Path(extra_file).read_text("utf-8"))
            prices.update(_parse_models(extra.get("models") or {}))
            aliases.update(extra.get("aliases") or {})
        return cls(prices, aliases=aliases, provider_aliases=provider_aliases,
                   as_of=data.get("prices_as_of"))

    def find(self, model: str | None) -> Price | None:
        """The price of a `provider/model`, or None when the table does not know it."""
        if not model:
            return None
        if model in self._found:
            return self._found[model]
        price = self._resolve(model)
        if len(self._found) < 10_000:  # bounded: model names come from callers
            self._found[model] = price
        return price

    def _resolve(self, model: str) -> Price | None:
        provider, sep, name = model.partition("/")
        if sep:
            model = f"{self._providers.get(provider, provider)}/{name}"
        for candidate in (model, _DATE_SUFFIX.sub("", model)):
            candidate = self._aliases.get(candidate, candidate)
            if candidate in self._prices:
                return self._prices[candidate]
        return None

    def cost(
        self, model: str | None, usage: Mapping[str, Any] | None, *, cache_hit: bool | None = None
    ) -> Cost | None:
        """The cost of one request; a cache hit cost nothing, an unknown price is None."""
        if cache_hit:
            return FREE
        if not usage:
            return None
        return self.cost_of(model, TokenCounts.of(usage))

    def cost_of(self, model: str | None, tokens: TokenCounts) -> Cost | None:
        """The cost of counted tokens (usage already read), or None for an unknown model."""
        price = self.find(model)
        return None if price is None else price_tokens(price, tokens)


def price_tokens(price: Price, tokens: TokenCounts) -> Cost:
    cached = min(tokens.cached, tokens.prompt)
    written = min(tokens.cache_write, tokens.prompt - cached)
    fresh = tokens.prompt - cached - written
    reasoning = min(tokens.reasoning, tokens.completion)
    answer = tokens.completion - reasoning
    cached_price = price.input if price.cached_input is None else price.cached_input
    write_price = price.input if price.cache_write is None else price.cache_write
    reasoning_price = price.output if price.reasoning is None else price.reasoning
    return Cost(  # input, cached_input, cache_write, output, reasoning
        fresh * price.input / _MILLION,
        cached * cached_price / _MILLION,
        written * write_price / _MILLION,
        answer * price.output / _MILLION,
        reasoning * reasoning_price / _MILLION,
    )


def _parse_models(raw: Mapping[str, Any]) -> dict[str, Price]:
    out: dict[str, Price] = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping) or "input" not in entry or "output" not in entry:
            raise ValueError(f"price of {name!r} needs at least 'input' and 'output'")
        out[name] = Price(
            input=float(entry["input"]),
            output=float(entry["output"]),
            cached_input=_opt(entry.get("cached_input")),
            cache_write=_opt(entry.get("cache_write")),
            reasoning=_opt(entry.get("reasoning")),
        )
    return out


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
