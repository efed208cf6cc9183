"""`TraceWriter`: the recorder that stores traces in batches, off the hot path.

`record()` is called by the chat route for every request. It prices the trace, bumps the
metrics and appends to a bounded in-memory buffer; it never waits and never raises. A background
task writes the buffer in batches (woken by `batch_size` traces, or every `interval`), each in
one transaction; a writer that has fallen behind writes up to `max_batch` at once, so it catches
up instead of paying a transaction per few hundred traces while the buffer fills. While the
database is down or slow, a failed batch is retried with exponential backoff and new traces
keep accumulating in the buffer: nothing that fits is lost, and serving never slows. Only
when the buffer is full are new traces dropped, counted and logged (at most once every few
seconds). A batch the database refuses for its data (not for being unreachable) is split, so
one bad trace cannot hold the others back.

At shutdown, `close()` writes what is queued, within a time bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from waystation.observe.counting import price_and_count
from waystation.observe.metrics import GatewayMetrics
from waystation.observe.pricing import PriceTable
from waystation.observe.trace import Trace
from waystation.store.database import is_transient
from waystation.store.trace_rows import RecordedTrace

log = logging.getLogger("waystation.traces")


class TraceSink(Protocol):
    async def write(self, items: Sequence[RecordedTrace]) -> None: ...


class SpanExporter(Protocol):
    def export(self, items: Sequence[RecordedTrace]) -> None: ...

    def shutdown(self) -> None: ...


class _Throttled:
    """A logger that says a repeated problem at most once per `every` seconds, with a count."""

    def __init__(self, every: float = 10.0) -> None:
        self._every = every
        self._last: dict[str, float] = {}
        self._muted: dict[str, int] = {}

    def say(self, topic: str, message: str, level: int = logging.WARNING) -> None:
        now = time.monotonic()
        if now - self._last.get(topic, -self._every) < self._every:
            self._muted[topic] = self._muted.get(topic, 0) + 1
            return
        muted = self._muted.pop(topic, 0)
        self._last[topic] = now
        log.log(level, "%s%s", message, f" ({muted} more like this)" if muted else "")


class TraceWriter:
    def __init__(
        self,
        sink: TraceSink,
        *,
        prices: PriceTable | None = None,
        metrics: GatewayMetrics | None = None,
        exporter: SpanExporter | None = None,
        capacity: int = 10_000,
        batch_size: int = 200,
        max_batch: int = 2_000,
        interval: float = 0.5,
        backoff: tuple[float, float] = (0.5, 30.0),
        transient: Callable[[BaseException], bool] = is_transient,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sink = sink
        self._prices = prices
        self._metrics = metrics
        self._exporter = exporter
        self.capacity = capacity
        self.batch_size = batch_size
        self.max_batch = max(batch_size, max_batch)
        self.interval = interval
        self._backoff = backoff
        self._transient = transient
        self._sleep = sleep
        self._queue: deque[RecordedTrace] = deque()
        self._inflight = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._give_up_at: float | None = None
        self._outage = False
        self._log = _Throttled()
        self._warn_observe = functools.partial(self._log.say, "observe")
        self.written = self.dropped = self.rejected = self.failures = self.lost = 0
        if metrics is not None:
            metrics.watch_queue(lambda: len(self._queue) + self._inflight)

    # -- the hot path -----------------------------------------------------------------------

    def record(self, trace: Trace) -> None:
        """Queue a finished trace: never blocks, never raises.

        Runs once per request on the event loop, so it only prices, counts, compacts and
        appends; the token counts read here travel with the trace, and the writer does not read
        them again. Without a span exporter (which reads the parsed bodies) the trace is
        compacted (`Trace.compact`) before it waits in the queue.
        """
        metrics = self._metrics
        cost, tokens = price_and_count(trace, self._prices, metrics, self._warn_observe)
        queue = self._queue
        if len(queue) >= self.capacity:
            self.dropped += 1
            if metrics is not None:
                metrics.traces_dropped.inc()
            self._log.say("overflow", f"trace buffer full ({self.capacity}); dropping traces "
                          f"until the database catches up ({self.dropped} dropped so far)")
            return
        if self._exporter is None and tokens is not None:
            trace.compact()  # the writer reads the counts read here, never the usage again
        queue.append(RecordedTrace(trace, cost, tokens))
        if len(queue) >= self.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Traces recorded but not yet written."""
        return len(self._queue) + self._inflight

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="trace-writer")

    async def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything recorded so far is written; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        if self._task is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain_all(), timeout)
            return not self.pending
        while self.pending and time.monotonic() < deadline:
            self._wake.set()
            await asyncio.sleep(0.01)
        return not self.pending

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most `timeout` seconds), then stop."""
        self._closing = True
        self._give_up_at = time.monotonic() + timeout
        self._wake.set()
        task, self._task = self._task, None
        try:
            if task is None:
                await asyncio.wait_for(self._drain_all(), timeout)
            else:
                await asyncio.wait_for(task, timeout)
        except TimeoutError:
            pass
        finally:
            if task is not None and not task.done():
                task.cancel()
        if self.pending:
            self.lost += self.pending
            log.error("shutting down with %d traces not written (database unavailable)",
                      self.pending)
        if self._exporter is not None:
            self._exporter.shutdown()

    # -- the background writer --------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if len(self._queue) < self.batch_size and not self._closing:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
            if not self._queue:
                if self._closing:
                    return
                continue
            if not await self._drain_once():
                return

    async def _drain_all(self) -> None:
        while self._queue and await self._drain_once():
            pass

    async def _drain_once(self) -> bool:
        """Write one batch; False when shutdown gave it up (it goes back to the queue)."""
        batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
        self._inflight = len(batch)
        done = False
        try:
            done = await self._deliver(batch)
        finally:
            self._inflight = 0
            if not done:
                self._queue.extendleft(reversed(batch))
        return done

    async def _deliver(self, batch: list[RecordedTrace]) -> bool:
        """Write a batch, retrying while the database is unreachable.

        True once it is written (or refused as bad data); False if shutdown gave it up.
        """
        delay, longest = self._backoff
        while True:
            try:
                await self._sink.write(batch)
            except Exception as error:
                if not self._transient(error):
                    return await self._isolate(batch, error)
                self.failures += 1
                if self._metrics is not None:
                    self._metrics.trace_write_failures.inc()
                self._outage = True
                self._log.say("write", f"cannot write {len(batch)} traces ({error!r}); "
                              f"retrying in {delay:.1f}s, {len(self._queue)} more waiting")
                if not await self._wait(delay):
                    return False
                delay = min(delay * 2, longest)
                continue
            self._written(batch)
            return True

    async def _wait(self, delay: float) -> bool:
        """Back off; False once the shutdown bound has passed (the batch is then given up)."""
        if self._give_up_at is not None:
            left = self._give_up_at - time.monotonic()
            if left <= 0:
                return False
            delay = min(delay, left)
        await self._sleep(delay)
        return True

    async def _isolate(self, batch: list[RecordedTrace], error: BaseException) -> bool:
        """The database refused the data: write one by one, and drop only what it refuses."""
        if len(batch) == 1:
            self.rejected += 1
            if self._metrics is not None:
                self._metrics.traces_rejected.inc()
            self._log.say("rejected", f"the database refused trace {batch[0].trace.id}: "
                          f"{error!r}", logging.ERROR)
            return True
        for index, item in enumerate(batch):
            if not await self._deliver([item]):
                del batch[:index]  # the caller puts back only what is not written
                return False
        return True

    def _written(self, batch: list[RecordedTrace]) -> None:
        self.written += len(batch)
        if self._metrics is not None:
            self._metrics.traces_written.inc(len(batch))
        if self._outage:
            self._outage = False
            log.info("traces are being written again")
        if self._exporter is not None:
            try:
                self._exporter.export(batch)
            except Exception as error:
                self._log.say("export", f"cannot export spans: {error!r}")
