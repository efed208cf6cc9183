"""Provider status codes → the gateway's typed upstream errors (shared by every wire format)."""

from __future__ import annotations

from collections.abc import Mapping

from waystation.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (OpenAI, Anthropic) wins over `Retry-After` seconds; dates are ignored."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    headers: Mapping[str, str],
    code: str | None = None,
    param: str | None = None,
) -> UpstreamError:
    """Pick the error class by status alone: never by searching the message text.

    The provider's own 4xx is the caller's request being wrong for that provider, surfaced with
    its status and message, except 401/403: those mean the gateway's credentials for the
    provider are wrong, which is the operator's problem, not the caller's key, so they are 502.
    """
    err = _error_class_for(status, message, provider, headers, code, param)
    err.upstream_status = status
    return err


def _error_class_for(
    status: int,
    message: str,
    provider: str,
    headers: Mapping[str, str],
    code: str | None,
    param: str | None,
) -> UpstreamError:
    text = f"{provider}: {message}" if message else f"{provider} answered HTTP {status}"
    retry_after = retry_after_seconds(headers)
    if status == 429:
        return UpstreamRateLimited(text, provider=provider, retry_after=retry_after, code=code)
    if status in (401, 403):
        return UpstreamError(
            f"{provider} refused the gateway's credentials (HTTP {status}): {message}",
            provider=provider,
            status=502,
            code="upstream_authentication_failed",
        )
    if status == 408:
        return UpstreamTimeout(text, provider=provider, retry_after=retry_after)
    if 400 <= status < 500:
        return UpstreamRejected(
            text,
            provider=provider,
            status=status,
            code=code,
            param=param,
            error_type="not_found_error" if status == 404 else None,
        )
    if status in (502, 503, 504):
        cls = UpstreamTimeout if status == 504 else UpstreamUnavailable
        return cls(text, provider=provider, status=status, retry_after=retry_after, code=code)
    if status == 529:
        return UpstreamUnavailable(text, provider=provider, status=503, retry_after=retry_after)
    return UpstreamError(text, provider=provider, status=502, retry_after=retry_after, code=code)
