"""Pydantic validation errors → an `InvalidRequest` whose `param` names the field, as OpenAI does.

Shared by every route that validates a body with pydantic, so that all of them name fields the
same way (`messages[0].content`, `input[2]`, `fallbacks[0].model`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from waystation.errors import InvalidRequest


def invalid_request_from(exc: ValidationError, data: Any) -> InvalidRequest:
    # For a union (`str | list[part]`) pydantic reports every member; the deepest path is the
    # one that names what the caller actually got wrong.
    candidates = [(param_path(e.get("loc", ()), data), e) for e in exc.errors(include_url=False)]
    param, err = max(candidates, key=lambda c: c[0].count(".") + c[0].count("["))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        message = f"Unrecognized request argument supplied: {param}"
    elif kind == "missing":
        message = f"Missing required parameter: {param}"
    elif kind in _CONTAINER_TYPES:
        # pydantic speaks of Python's dictionaries and class names; a caller sent JSON
        got = _json_type(err.get("input"))
        message = f"Invalid value for {param}: expected {_CONTAINER_TYPES[kind]}, got {got}"
    else:
        msg = str(err.get("msg", "invalid value"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        message = f"Invalid value for {param}: {msg}" if param else msg
    return InvalidRequest(message, param=param or None)


# pydantic error types whose message names a Python type, and the JSON type the caller meant
_CONTAINER_TYPES = {
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "list_type": "an array",
    "tuple_type": "an array",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def param_path(loc: tuple[Any, ...], data: Any) -> str:
    """Render pydantic's location as `messages[0].content`, skipping union and tag segments."""
    out = ""
    node = data
    tag_skipped = False
    for i, seg in enumerate(loc):
        if isinstance(seg, int) and isinstance(node, list) and 0 <= seg < len(node):
            out += f"[{seg}]"
            node, tag_skipped = node[seg], False
        elif not isinstance(seg, str) or not isinstance(node, dict):
            continue
        elif not tag_skipped and _is_tag(seg, node, loc[i + 1:]):
            tag_skipped = True  # the discriminator value pydantic puts in the path
        elif seg in node or _is_field_name(seg):
            out += f".{seg}" if out else seg
            node, tag_skipped = node.get(seg), False
        # anything else names a union member: not part of the path
    return out


def _is_tag(seg: str, node: dict[str, Any], rest: tuple[Any, ...]) -> bool:
    if seg not in (node.get("role"), node.get("type")):
        return False
    if seg not in node:
        return True
    # `{"type": "function", "function": {...}}`: a key of that name is a tag only when the
    # path does not go on into it
    child = node[seg]
    nxt = rest[0] if rest else None
    return not (
        nxt is None
        or (isinstance(child, dict) and nxt in child)
        or (isinstance(child, list) and isinstance(nxt, int))
    )


def _is_field_name(seg: str) -> bool:
    return seg.isidentifier() and seg.islower() and seg not in _TYPE_NAMES


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})
