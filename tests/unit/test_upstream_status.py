"""Provider statuses map to typed errors by status alone."""

from __future__ import annotations

import pytest

from waystation.errors import (
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from waystation.providers.upstream_status import error_for_status, retry_after_seconds


@pytest.mark.parametrize(
    ("status", "cls", "shown"),
    [
        (400, UpstreamRejected, 400),
        (404, UpstreamRejected, 404),
        (422, UpstreamRejected, 422),
        (429, UpstreamRateLimited, 429),
        (408, UpstreamTimeout, 504),
        (500, None, 502),
        (502, UpstreamUnavailable, 502),
        (503, UpstreamUnavailable, 503),
        (504, UpstreamTimeout, 504),
        (529, UpstreamUnavailable, 503),
        (401, None, 502),
        (403, None, 502),
    ],
)
def test_status_mapping(status: int, cls: type | None, shown: int) -> None:
    err = error_for_status(status, "boom", provider="p", headers={})
    if cls is not None:
        assert isinstance(err, cls)
    assert err.status == shown
    assert err.upstream_status == status
    assert "boom" in err.message


def test_the_providers_own_4xx_is_not_retryable_and_5xx_is() -> None:
    assert not error_for_status(400, "x", provider="p", headers={}).retryable
    assert error_for_status(503, "x", provider="p", headers={}).retryable
    assert error_for_status(429, "x", provider="p", headers={}).retryable


def test_retry_after_headers() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_seconds({}) is None
