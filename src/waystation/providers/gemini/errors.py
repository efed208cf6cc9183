"""Gemini error bodies → the gateway's typed upstream errors.

Gemini answers errors as `{"error": {"code": <http status>, "message", "status", "details"}}`
(wrapped in a one-element list by some stream endpoints). The HTTP status decides the class,
through `error_for_status`, as for every provider: INVALID_ARGUMENT 400 and NOT_FOUND 404 reach
the caller as theirs, RESOURCE_EXHAUSTED 429 is a retryable rate limit, UNAVAILABLE 503 a
retryable outage, PERMISSION_DENIED/UNAUTHENTICATED the gateway's own credentials. Two
structured fields refine it: `details[].reason == "API_KEY_INVALID"` (Gemini sends a bad key
back as a 400) is the gateway's credentials too, and a `RetryInfo` detail's `retryDelay`
serves as Retry-After when no header says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from waystation.errors import UpstreamError
from waystation.providers.upstream_status import error_for_status

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
BAD_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})


def map_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> UpstreamError:
    err = _error_object(body)
    if err is None:
        text = body[:300].decode("utf-8", "replace").strip()
        return error_for_status(status, text, provider=provider, headers=headers)
    return _from_error_object(err, status, headers, provider)


def stream_error(err: Any, provider: str) -> UpstreamError:
    """An error sent as an event in the middle of a stream."""
    if not isinstance(err, dict):
        return error_for_status(502, str(err), provider=provider, headers={})
    code = err.get("code")
    status = code if isinstance(code, int) and 400 <= code <= 599 else 502
    return _from_error_object(err, status, {}, provider)


def _from_error_object(
    err: dict[str, Any], status: int, headers: Mapping[str, str], provider: str
) -> UpstreamError:
    message = str(err.get("message") or "")
    code = err.get("status")
    raw_details = err.get("details")
    details: list[Any] = raw_details if isinstance(raw_details, list) else []
    reasons = {d.get("reason") for d in details if isinstance(d, dict)}
    as_status = 401 if reasons & BAD_KEY_REASONS else status
    delay = _retry_delay(details)
    if delay is not None and "retry-after" not in headers and "retry-after-ms" not in headers:
        headers = {**headers, "retry-after": str(delay)}
    mapped = error_for_status(
        as_status,
        message,
        provider=provider,
        headers=headers,
        code=str(code).lower() if isinstance(code, str) else None,
    )
    mapped.upstream_status = status  # what Google answered, whatever it is read as
    return mapped


def _error_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data:
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else None


def _retry_delay(details: list[Any]) -> float | None:
    """`RetryInfo.retryDelay` is a protobuf Duration in JSON: seconds with an `s` ("37s")."""
    for detail in details:
        if isinstance(detail, dict) and detail.get("@type") == RETRY_INFO:
            raw = detail.get("retryDelay")
            if isinstance(raw, str) and raw.endswith("s"):
                try:
                    return max(float(raw[:-1]), 0.0)
                except ValueError:
                    return None
    return None
