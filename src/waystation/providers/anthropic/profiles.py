"""What each Claude model can take, read from its name.

Some features exist only on newer models: native structured output (`output_config.format`),
the `output_config.effort` control and adaptive thinking. The adapter picks between a native
mapping and a fallback by these facts, so they live here as data. A name we cannot read (an
alias, a model newer than this table) is taken to be a current model: the provider refuses
what a model lacks with its own 400, which the caller sees, so the guess fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# family → the first version that has the feature (from Anthropic's model documentation)
_NATIVE_JSON_SINCE = {"opus": (4, 5), "sonnet": (4, 5), "haiku": (4, 5)}
_EFFORT_SINCE = {"opus": (4, 5), "sonnet": (4, 6), "haiku": (5, 5)}
_ADAPTIVE_SINCE = {"opus": (4, 6), "sonnet": (4, 6), "haiku": (5, 5)}

# `claude-sonnet-4-5`, `claude-opus-4-1-20250805`, `claude-sonnet-4-20250514` (minor absent)
_NEW_STYLE = re.compile(r"^claude-([a-z]+)-(\d+)(?:-(\d{1,2}))?(?=-|$)")
# `claude-3-7-sonnet-20250219`, `claude-3-haiku-20240307`
_OLD_STYLE = re.compile(r"^claude-(\d+)(?:-(\d{1,2}))?-([a-z]+)(?=-|$)")


@dataclass(frozen=True, slots=True)
class ModelProfile:
    native_json: bool
    effort: bool
    adaptive_thinking: bool


CURRENT = ModelProfile(native_json=True, effort=True, adaptive_thinking=True)


def _family_version(model: str) -> tuple[str, tuple[int, int]] | None:
    name = model.lower().rpartition("/")[2]  # tolerate a publisher prefix
    m = _NEW_STYLE.match(name)
    if m and not m.group(1).isdigit():
        return m.group(1), (int(m.group(2)), int(m.group(3) or 0))
    m = _OLD_STYLE.match(name)
    if m:
        return m.group(3), (int(m.group(1)), int(m.group(2) or 0))
    return None


def _since(table: dict[str, tuple[int, int]], family: str, version: tuple[int, int]) -> bool:
    first = table.get(family)
    return True if first is None else version >= first


def profile_for(model: str) -> ModelProfile:
    """The profile of a model id; families missing from the tables are newer than them."""
    parsed = _family_version(model)
    if parsed is None:
        return CURRENT
    family, version = parsed
    if family not in _NATIVE_JSON_SINCE:
        return CURRENT
    return ModelProfile(
        native_json=_since(_NATIVE_JSON_SINCE, family, version),
        effort=_since(_EFFORT_SINCE, family, version),
        adaptive_thinking=_since(_ADAPTIVE_SINCE, family, version),
    )
