"""Bedrock's errors → the gateway's typed upstream errors.

An HTTP error names its type in the `x-amzn-ErrorType` header (`ValidationException:…`), or
in the body's `__type`; the body's `message` is the text. A streamed answer reports failures
as event-stream frames with `:message-type: exception` and `:exception-type`
(`throttlingException`, `modelStreamErrorException`, …). Both are mapped through one table of
the service's error types to the status that means the same thing here; the type's name is the
error `code` the caller sees (except for credentials problems, see `error_for_status`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from waystation.errors import UpstreamError
from waystation.providers.bedrock.eventstream import Frame
from waystation.providers.upstream_status import error_for_status

# error type (lower case) → the status it means. The service says 424 for a model's own
# failure and 400 for an exhausted quota; here they are a failed attempt and a rate limit.
ERROR_STATUS = {
    "validationexception": 400,
    "conflictexception": 400,
    "accessdeniedexception": 403,
    "unrecognizedclientexception": 403,
    "expiredtokenexception": 403,
    "invalidsignatureexception": 403,
    "resourcenotfoundexception": 404,
    "modeltimeoutexception": 408,
    "throttlingexception": 429,
    "modelnotreadyexception": 429,
    "servicequotaexceededexception": 429,
    "internalserverexception": 500,
    "modelerrorexception": 502,
    "modelstreamerrorexception": 502,
    "serviceunavailableexception": 503,
}


def error_type(headers: Mapping[str, str], data: Any) -> str | None:
    raw = headers.get("x-amzn-errortype") or headers.get("x-amzn-ErrorType")
    if not raw and isinstance(data, dict):
        raw = data.get("__type") or data.get("code")
    if not raw:
        return None
    return str(raw).split(":", 1)[0].rsplit("#", 1)[-1]


def map_http_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> UpstreamError:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    kind = error_type(headers, data)
    message = _message(data) or body[:300].decode("utf-8", "replace").strip()
    return _error(kind, status, message, headers, provider)


def map_stream_exception(frame: Frame, provider: str) -> UpstreamError:
    """An exception frame in the middle of a stream (or an event-stream `error` frame)."""
    if frame.message_type == "error":
        kind = str(frame.headers.get(":error-code") or "InternalServerException")
        message = str(frame.headers.get(":error-message") or "")
    else:
        kind = frame.exception_type or frame.event_type or "InternalServerException"
        try:
            data = orjson.loads(frame.payload) if frame.payload else None
        except orjson.JSONDecodeError:
            data = None
        message = _message(data) or frame.payload[:300].decode("utf-8", "replace")
    err = _error(kind, 500, message, {}, provider)
    err.upstream_status = ERROR_STATUS.get(kind.lower(), 500)  # what it would have been
    return err


def _error(
    kind: str | None, status: int, message: str, headers: Mapping[str, str], provider: str
) -> UpstreamError:
    mapped = ERROR_STATUS.get((kind or "").lower(), status)
    code = kind[0].upper() + kind[1:] if kind else None
    err = error_for_status(mapped, message, provider=provider, headers=headers, code=code)
    err.upstream_status = status
    return err


def _message(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("message", "Message", "originalMessage"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return ""
