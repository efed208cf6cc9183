"""The trace writer: never blocks the caller, loses nothing that fits, survives the database."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.store import sample
from tests.store.conftest import empty
from waystation.observe.metrics import GatewayMetrics
from waystation.observe.pricing import PriceTable
from waystation.observe.recorder import TraceWriter
from waystation.store import Store
from waystation.store.database import Database
from waystation.store.pagination import PageRequest
from waystation.store.trace_rows import RecordedTrace
from waystation.store.traces import TraceFilter


class Sink:
    """Keeps batches; raises ConnectionError while `down`, ValueError for a trace named bad."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.down = False
        self.attempts = 0

    async def write(self, items: Sequence[RecordedTrace]) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionError("database is down")
        if any(i.trace.name == "bad" for i in items):
            raise ValueError("refused")
        self.batches.append([i.trace.id for i in items])

    @property
    def written(self) -> list[str]:
        return [t for batch in self.batches for t in batch]


async def until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Wait for a condition the writer reaches in the background (bounded, not timed)."""
    for _ in range(int(limit / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never became true")


async def no_wait(_delay: float) -> None:
    await asyncio.sleep(0)


async def test_batches_are_cut_at_the_largest_batch() -> None:
    sink = Sink()
    writer = TraceWriter(sink, batch_size=2, max_batch=3)
    traces = [sample.trace() for _ in range(7)]
    for t in traces:
        writer.record(t)
    assert await writer.flush()
    assert [len(b) for b in sink.batches] == [3, 3, 1]
    assert sink.written == [t.id for t in traces]


async def test_a_writer_behind_catches_up_in_large_batches() -> None:
    sink = Sink()
    writer = TraceWriter(sink, batch_size=2, max_batch=50, interval=3600)
    traces = [sample.trace() for _ in range(120)]
    for t in traces:  # nothing runs the writer meanwhile: it has fallen 120 traces behind
        writer.record(t)
    writer.start()
    assert await writer.flush()
    assert [len(b) for b in sink.batches] == [50, 50, 20]
    assert sink.written == [t.id for t in traces]
    await writer.close()


async def test_a_full_buffer_drops_counts_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    metrics = GatewayMetrics()
    writer = TraceWriter(Sink(), capacity=2, metrics=metrics)
    with caplog.at_level(logging.WARNING, "waystation.traces"):
        for _ in range(5):
            writer.record(sample.trace())
    assert (writer.pending, writer.dropped) == (2, 3)
    assert metrics.registry.get_sample_value("waystation_traces_dropped_total") == 3
    assert sum("buffer full" in r.getMessage() for r in caplog.records) == 1


async def test_record_never_raises_even_when_pricing_breaks() -> None:
    class Broken(PriceTable):
        def cost(self, *_a: object, **_k: object) -> None:  # type: ignore[override]
            raise RuntimeError("bug")

    writer = TraceWriter(Sink(), prices=Broken({}))
    writer.record(sample.trace())
    assert writer.pending == 1


async def test_while_the_database_is_down_traces_wait_and_then_all_arrive() -> None:
    sink, delays = Sink(), []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    sink.down = True
    writer = TraceWriter(sink, batch_size=2, interval=0.01, sleep=sleep, backoff=(0.5, 4.0))
    writer.start()
    first = [sample.trace() for _ in range(5)]
    for t in first:
        writer.record(t)
    await until(lambda: sink.attempts >= 6)
    assert sink.written == [] and writer.pending == 5 and writer.failures >= 6
    assert delays[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]  # exponential, capped
    later = [sample.trace() for _ in range(5)]
    for t in later:
        writer.record(t)  # still accepted while the database is down
    sink.down = False
    assert await writer.flush()
    assert sink.written == [t.id for t in first + later]
    await writer.close()


async def test_a_trace_the_database_refuses_does_not_hold_back_the_others() -> None:
    sink = Sink()
    writer = TraceWriter(sink, batch_size=10)
    good = [sample.trace(), sample.trace()]
    writer.record(good[0])
    writer.record(sample.trace(name="bad"))
    writer.record(good[1])
    assert await writer.flush()
    assert sink.written == [t.id for t in good] and writer.rejected == 1


async def test_shutdown_writes_what_is_queued() -> None:
    sink = Sink()
    writer = TraceWriter(sink, interval=3600)  # nothing would be written before shutdown
    writer.start()
    traces = [sample.trace() for _ in range(5)]
    for t in traces:
        writer.record(t)
    await writer.close(timeout=30)
    assert sink.written == [t.id for t in traces] and writer.lost == 0


async def test_shutdown_with_the_database_down_gives_up_within_its_bound() -> None:
    sink = Sink()
    sink.down = True
    writer = TraceWriter(sink, interval=0.01, backoff=(0.01, 0.05))
    writer.start()
    for _ in range(3):
        writer.record(sample.trace())
    await until(lambda: sink.attempts >= 1)
    await writer.close(timeout=0.2)
    assert writer.lost == 3 and sink.written == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unreachable(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the database folder should be")
        return f"sqlite+aiosqlite:///{blocker / 'waystation.db'}"
    return f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/nowhere"


async def test_a_real_database_that_is_unreachable_then_back(
        database_url: str, tmp_path: Path) -> None:
    real = Store.open(database_url)
    await empty(real.db)
    down = Database(_unreachable(database_url, tmp_path))
    sink = real.sink
    sink.db = down
    writer = TraceWriter(sink, interval=0.01, sleep=no_wait, backoff=(0.01, 0.01))
    writer.start()
    traces = [sample.trace() for _ in range(3)]
    for t in traces:
        writer.record(t)
    await until(lambda: writer.failures >= 2)
    assert writer.pending == 3
    sink.db = real.db  # the database comes back
    assert await writer.flush()
    found, _ = await real.traces.list(TraceFilter(), PageRequest(limit=10))
    assert sorted(t["_id"] for t in found) == sorted(t.id for t in traces)
    await writer.close()
    await down.close()
    await real.db.close()


async def test_queued_traces_are_compacted_unless_spans_are_exported() -> None:
    """The writer keeps only JSON of a queued trace's bodies; a span exporter reads the parsed
    ones, so with one the trace is queued as it came."""

    class Spans:
        def export(self, items: Sequence[RecordedTrace]) -> None:
            pass

        def shutdown(self) -> None:
            pass

    plain, exported = sample.trace(), sample.trace()
    TraceWriter(Sink()).record(plain)
    TraceWriter(Sink(), exporter=Spans()).record(exported)
    assert plain.request is None and plain.usage is None and plain.request_json is not None
    assert exported.request is not None and exported.request_json is None
