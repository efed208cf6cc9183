"""Whether a shared cache backend is reachable, and what the logs say about it.

When Redis goes away every request would otherwise pay a failed connection attempt (or a full
connect timeout, if packets are dropped) twice, and write a log line. So after a failure the
backend is marked down for `retry_interval` seconds: operations are skipped (served as misses)
until one caller probes again. The first success logs the recovery. Failure logs are rate
limited: the first one is logged at once, later ones are summed into one line per
`log_interval`.
"""

from __future__ import annotations

import logging

from waystation.clock import Clock

log = logging.getLogger("waystation.cache")


class BackendHealth:
    def __init__(
        self,
        name: str,
        *,
        clock: Clock | None = None,
        retry_interval: float = 1.0,
        log_interval: float = 30.0,
    ) -> None:
        self.name = name
        self.retry_interval = retry_interval
        self.log_interval = log_interval
        self._clock = clock or Clock()
        self._down = False
        self._next_try = 0.0
        self._failures = 0
        self._unlogged = 0
        self._last_log: float | None = None

    @property
    def down(self) -> bool:
        return self._down

    def should_try(self) -> bool:
        """True when the backend is up, or when it is down and it is time for one probe."""
        if not self._down:
            return True
        now = self._clock.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_interval  # one probe per interval, not a stampede
        return True

    def failed(self, exc: BaseException) -> None:
        now = self._clock.monotonic()
        self._down = True
        self._next_try = now + self.retry_interval
        self._failures += 1
        self._unlogged += 1
        if self._last_log is None or now - self._last_log >= self.log_interval:
            log.warning(
                "%s unreachable (%s: %s); serving without it, retrying every %.1f s "
                "(%d failure(s) since the last report)",
                self.name, type(exc).__name__, exc, self.retry_interval, self._unlogged,
            )
            self._last_log = now
            self._unlogged = 0

    def succeeded(self) -> None:
        if self._down:
            log.warning("%s reachable again after %d failure(s)", self.name, self._failures)
            self._down = False
            self._failures = 0
            self._unlogged = 0
            self._last_log = None
