"""Reading a provider's JSON: the body or event as an object, and its parts as they come.

`json_object` and `json_answer` are strict where a decoder cannot go on: a body or stream
event of the wrong kind is an upstream error (502). The readers below them are lenient: a part
of the wrong type reads as absent, so an answer of an unexpected shape never crashes the
gateway; what is left is checked where it matters (a missing message is an upstream error).
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.errors import UpstreamBadResponse


def json_object(raw: bytes | str, provider: str, what: str) -> dict[str, Any]:
    """`raw` parsed as a JSON object, else "`provider` `what` that is not a JSON object"
    (`what`: "answered with a body", "sent a stream event")."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamBadResponse(f"{provider} {what} that is not a JSON object", provider=provider)
    return data


def json_answer(body: bytes, provider: str, list_field: str) -> dict[str, Any]:
    """An answer body that must be JSON holding a list under `list_field` (the choices, the
    content), else "`provider` answered with a body that is not JSON" or "… answered without
    `list_field`"."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamBadResponse(f"{provider} answered with a body that is not JSON",
                                  provider=provider) from None
    if not isinstance(data, dict) or not isinstance(data.get(list_field), list):
        raise UpstreamBadResponse(f"{provider} answered without {list_field}", provider=provider)
    return data


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
