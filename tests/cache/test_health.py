"""A down backend is backed off and logged at a bounded rate; recovery is logged once."""

from __future__ import annotations

import logging

import pytest

from tests.cache.conftest import FakeClock
from waystation.cache.health import BackendHealth


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "waystation.cache"]


def test_after_a_failure_only_one_probe_per_interval(clock: FakeClock) -> None:
    h = BackendHealth("store", clock=clock, retry_interval=2.0)
    assert h.should_try()
    h.failed(OSError("refused"))
    assert h.down and not h.should_try()
    clock.advance(2.0)
    assert h.should_try()       # the probe
    assert not h.should_try()   # everyone else keeps skipping while it runs
    h.succeeded()
    assert not h.down and h.should_try() and h.should_try()


def test_failures_are_logged_at_most_once_per_log_interval(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="waystation.cache")
    h = BackendHealth("store", clock=clock, retry_interval=0.0, log_interval=30.0)
    for _ in range(5):
        h.failed(ConnectionError("refused"))
        clock.advance(1)
    assert len(messages(caplog)) == 1
    assert "store unreachable" in messages(caplog)[0]
    clock.advance(30)
    h.failed(ConnectionError("refused"))
    assert len(messages(caplog)) == 2
    assert "5 failure(s) since the last report" in messages(caplog)[1]


def test_recovery_is_logged_once(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="waystation.cache")
    h = BackendHealth("store", clock=clock)
    h.succeeded()
    assert messages(caplog) == []
    h.failed(ConnectionError("refused"))
    h.succeeded()
    h.succeeded()
    assert messages(caplog)[1:] == ["store reachable again after 1 failure(s)"]
