"""Anthropic error bodies → the gateway's typed upstream errors.

The body is `{"type": "error", "error": {"type": …, "message": …}, "request_id": …}`. The HTTP
status decides the class (through `error_for_status`, shared by every wire format), with one
exception: `overloaded_error` is Anthropic's "try again shortly", always mapped as its 529.
An `error` event inside a stream arrives on a 200 response, so there the error type alone
gives the status. The message is never searched.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from waystation.errors import UpstreamError
from waystation.providers.upstream_status import error_for_status

# error.type → the status Anthropic documents for it
TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def error_fields(body: bytes) -> tuple[str | None, str]:
    """(error.type, message) from an error body; a non-JSON body (a proxy's page) as text."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body[:300].decode("utf-8", "replace").strip()
    return error_fields_of(data)


def error_fields_of(data: object) -> tuple[str | None, str]:
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        kind = err.get("type")
        return (str(kind) if kind else None), str(err.get("message") or "")
    if isinstance(err, str):
        return None, err
    return None, ""


def map_status_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> UpstreamError:
    kind, message = error_fields(body)
    return _error(status, kind, message, headers, provider)


def map_stream_error(data: object, provider: str) -> UpstreamError:
    """An `error` event received after the 200: its type says what happened."""
    kind, message = error_fields_of(data)
    return _error(200, kind, message or "the stream reported an error", {}, provider)


def _error(
    status: int, kind: str | None, message: str, headers: Mapping[str, str], provider: str
) -> UpstreamError:
    if kind == "overloaded_error":
        status = 529
    elif status < 400:
        status = TYPE_STATUS.get(kind or "", 502)
    # a rejection keeps Anthropic's error type as its code; failures keep the gateway's codes,
    # so callers handle unavailability and rate limits alike whichever provider failed
    code = kind if 400 <= status < 500 and status != 429 else None
    return error_for_status(status, message, provider=provider, headers=headers, code=code)
