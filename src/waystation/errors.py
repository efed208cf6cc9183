"""The one exception tree of the gateway.

Every failure a caller can see is one of these, and each class knows the HTTP status and the
OpenAI-style ``type``/``code`` it renders as, so handlers never guess::

    GatewayError (500 api_error)
    ├── ClientError: the caller's fault, never retried, never falls back
    │   ├── InvalidRequest (400) ─ UnsupportedParameter, UnsupportedFeature
    │   ├── AuthenticationFailed (401) · PermissionDenied (403) · NotFound (404)
    │   ├── PayloadTooLarge (413)
    │   └── RateLimited (429, our own limits)
    └── UpstreamError: carries provider, status, retry_after
        ├── UpstreamRateLimited (429) · UpstreamUnavailable (5xx) · UpstreamTimeout (504)
        ├── UpstreamConnectionError (502) · UpstreamBadResponse (502)
        ├── UpstreamRejected (the provider's own 4xx, surfaced with its message)
        ├── ProviderNotConfigured (503: a provider with no credentials)
        └── AllAttemptsFailed (every planned attempt failed; holds each attempt)
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str = "internal_error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        """The OpenAI-style error body every failure renders as."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "type": self.type,
            }
        }


class ClientError(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class InvalidRequest(ClientError):
    pass


class UnsupportedParameter(InvalidRequest):
    code = "unsupported_parameter"


class UnsupportedFeature(InvalidRequest):
    """A field of the API whose feature this build does not implement: refused, never ignored."""

    code = "unsupported_feature"


class AuthenticationFailed(ClientError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(ClientError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(ClientError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class MethodNotAllowed(ClientError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(ClientError):
    status = 413
    code = "request_too_large"


class RateLimited(ClientError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limited"


class UpstreamError(GatewayError):
    """A failure of the provider or of the way to it."""

    status = 502
    type = "api_error"
    code = "upstream_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, status=status)
        self.provider = provider
        self.retry_after = retry_after
        # what the provider itself answered (None: no answer), for retry and fallback rules
        self.upstream_status = upstream_status
        if error_type is not None:
            self.type = error_type


class UpstreamRateLimited(UpstreamError):
    status = 429
    type = "rate_limit_error"
    code = "upstream_rate_limited"


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamConnectionError(UpstreamError):
    status = 502
    code = "upstream_connection_error"


class UpstreamBadResponse(UpstreamError):
    status = 502
    code = "upstream_bad_response"
    retryable = False


class UpstreamRejected(UpstreamError):
    """The provider's own 4xx: the caller's request was wrong for that provider."""

    status = 400
    type = "invalid_request_error"
    code = "upstream_rejected"
    retryable = False


class ProviderNotConfigured(UpstreamError):
    status = 503
    type = "invalid_request_error"
    code = "provider_not_configured"
    retryable = False


class AllAttemptsFailed(UpstreamError):
    """Every model of a routed request failed: the caller sees the most telling attempt's status
    and message, plus the list of attempts."""

    def __init__(self, telling: UpstreamError, attempts: list[dict[str, Any]]) -> None:
        super().__init__(
            f"All {len(attempts)} attempts failed; the most telling: {telling.message}",
            provider=telling.provider,
            status=telling.status,
            retry_after=telling.retry_after,
            code=telling.code,
            param=telling.param,
            error_type=telling.type,
            upstream_status=telling.upstream_status,
        )
        self.attempts = attempts

    def body(self) -> dict[str, Any]:
        out = super().body()
        out["error"]["attempts"] = self.attempts
        return out
