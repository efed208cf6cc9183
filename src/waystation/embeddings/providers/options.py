"""The request options each provider can or cannot take, decided one way for all adapters.

A value a provider cannot take is refused with a 400 naming the field and the provider, or
left out when the operator set WAYSTATION_DROP_UNSUPPORTED_PARAMS. Two exceptions: token
arrays can never be dropped (the text would be lost), and an `input_type` that came as a hint
from inside the gateway (not from the caller) is simply not sent where it has no meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from waystation.embeddings.call import EmbedCall
from waystation.errors import UnsupportedParameter, UpstreamError
from waystation.providers.base import Target
from waystation.providers.upstream_status import error_for_status


def refuse(param: str, target: Target, what: str, *, drop: bool) -> None:
    """Raise for a value the provider cannot take; return (leave it out) when dropping is on."""
    if drop:
        return
    raise UnsupportedParameter(
        f"'{param}' is not supported by provider '{target.provider_name}' for embeddings: "
        f"{what}. Remove it, or set WAYSTATION_DROP_UNSUPPORTED_PARAMS=true to drop such "
        "parameters.",
        param=param,
    )


def text_only(call: EmbedCall, target: Target) -> None:
    """Token arrays are refused by providers that embed text only (never dropped)."""
    if call.has_token_arrays:
        raise UnsupportedParameter(
            f"Provider '{target.provider_name}' embeds text only: send 'input' as a string or "
            "a list of strings, not token arrays.",
            param="input",
        )


def no_user(call: EmbedCall, target: Target, *, drop: bool) -> None:
    if call.user is not None:
        refuse("user", target, "it takes no end-user identifier", drop=drop)


def input_type(
    call: EmbedCall,
    target: Target,
    table: Mapping[str, str],
    *,
    drop: bool,
    default: str | None = None,
) -> str | None:
    """The provider's value for the call's input type (`table` maps ours to its), or None.

    With no input type asked for, `default` (already in the provider's vocabulary) is used.
    """
    if call.input_type is None:
        return default
    mapped = table.get(call.input_type)
    if mapped is not None:
        return mapped
    if call.input_type_strict:
        what = (f"it takes these input types: {', '.join(sorted(table))}" if table
                else "its models embed every text the same way")
        refuse("input_type", target, what, drop=drop)
    return default


def error_message(body: bytes) -> str:
    """The message of a provider's error body: `error.message`, `message` or `detail`."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        for key in ("message", "detail", "error"):
            value = data.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list) and value:  # FastAPI-style validation details
                return "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v)
                                 for v in value)
    return body[:300].decode("utf-8", "replace").strip()


def plain_error(
    status: int, headers: Mapping[str, str], body: bytes, target: Target
) -> UpstreamError:
    """A provider whose error bodies carry only a message: mapped by status."""
    return error_for_status(
        status, error_message(body), provider=target.provider_name, headers=headers
    )


def bearer_headers(target: Target) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if target.provider.api_key:
        headers["authorization"] = f"Bearer {target.provider.api_key}"
    headers.update(target.provider.headers)
    return headers
