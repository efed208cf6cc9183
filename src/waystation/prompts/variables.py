"""`{{name}}` placeholders in message text, replaced from the request's variables.

Replacement is plain text in one pass: no code runs and a substituted value is never expanded
again, so a value that itself contains `{{x}}` stays as written. A placeholder with no value is
left as it is and reported, so the trace shows what the caller forgot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

PLACEHOLDER = re.compile(r"\{\{([A-Za-z0-9_]+)\}\}")
MASK = "[REDACTED]"


@dataclass(slots=True)
class Variables:
    values: dict[str, str] = field(default_factory=dict)
    pii: frozenset[str] = frozenset()  # names whose values must not reach traces or logs

    def __bool__(self) -> bool:
        return bool(self.values)


@dataclass(slots=True)
class Substitution:
    used: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def report(self, variables: Variables) -> dict[str, Any]:
        return {
            "used": sorted(set(self.used)),
            "missing": sorted(set(self.missing)),
            "pii": sorted(variables.pii & set(self.used)),
        }


def as_text(value: Any) -> str | None:
    """Strings as they are; numbers and booleans as JSON writes them; null means no value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def collect(top_level: dict[str, Any] | None, inputs: Any) -> Variables:
    """Merge `orq.inputs` (object or `[{key, value, is_pii}]` list) with top-level `variables`;
    a name given in both takes the top-level value."""
    values: dict[str, str] = {}
    pii: set[str] = set()
    if isinstance(inputs, dict):
        entries: Iterable[tuple[str, Any, bool]] = ((k, v, False) for k, v in inputs.items())
    elif isinstance(inputs, list):
        entries = ((e.key, e.value, bool(e.is_pii)) for e in inputs)
    else:
        entries = ()
    for name, value, is_pii in entries:
        text = as_text(value)
        if text is not None:
            values[name] = text
            if is_pii:
                pii.add(name)
    for name, value in (top_level or {}).items():
        text = as_text(value)
        if text is not None:
            values[name] = text
            pii.discard(name)
    return Variables(values, frozenset(pii))


def substitute_messages(messages: list[dict[str, Any]], variables: Variables) -> Substitution:
    """Replace placeholders in every message's text, in place (string content and text parts)."""
    result = Substitution()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        value = variables.values.get(name)
        if value is None:
            result.missing.append(name)
            return match.group(0)
        result.used.append(name)
        return value

    for index, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, str):
            if "{{" in content:
                messages[index] = {**message, "content": PLACEHOLDER.sub(replace, content)}
        elif isinstance(content, list):
            parts = [
                {**p, "text": PLACEHOLDER.sub(replace, p["text"])}
                if p.get("type") == "text" and "{{" in p.get("text", "")
                else p
                for p in content
            ]
            if parts != content:
                messages[index] = {**message, "content": parts}
    return result


def mask(obj: Any, secrets: Iterable[str]) -> Any:
    """A copy of `obj` with every occurrence of the secret strings replaced by a mask."""
    needles = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not needles:
        return obj
    pattern = re.compile("|".join(re.escape(n) for n in needles))

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return pattern.sub(MASK, node)
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node

    return walk(obj)
