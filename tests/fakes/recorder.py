"""A recorder that keeps traces in a list, for tests that look at what a request left behind."""

from __future__ import annotations

import time

from waystation.observe.trace import Trace


class ListRecorder:
    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def record(self, trace: Trace) -> None:
        self.traces.append(trace)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Trace]:
        """The traces once `count` have arrived (a trace is recorded just after the answer)."""
        deadline = time.monotonic() + timeout
        while len(self.traces) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.traces) >= count, f"{len(self.traces)} traces, expected {count}"
        return self.traces
