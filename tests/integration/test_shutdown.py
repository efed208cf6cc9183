"""Stopping a gateway: a part that fails to close does not keep the rest from closing."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningGateway, gateway_env
from tests.fakes.openai_server import FakeOpenAI

StartGateway = Callable[..., RunningGateway]


class _BrokenOnClose:
    """Stands in for the embeddings service; its close fails."""

    def close(self) -> None:
        raise RuntimeError("cannot close")


def test_a_part_that_fails_to_close_still_lets_the_traces_be_written_and_the_database_close(
    start_gateway: StartGateway, fake_openai: FakeOpenAI, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gw = start_gateway(gateway_env(fake_openai, tmp_path))
    pool = gw.app.store.db.engine.sync_engine.pool
    gw.app.embeddings = _BrokenOnClose()  # type: ignore[assignment]
    answered = httpx.post(f"{gw.url}/v2/gateway/chat/completions", timeout=30,
                          headers={"Authorization": f"Bearer {gw.key}",
                                   "X-Request-ID": "shutdown-check-1"},
                          json={"model": "openai/gpt-4o-mini",
                                "messages": [{"role": "user", "content": "hi"}]})
    assert answered.status_code == 200, answered.text
    with caplog.at_level(logging.ERROR):
        gw.stop()  # at once: the trace is still queued (the writer's interval is 0.5 s)
    assert any("closing the embeddings failed" in r.getMessage() for r in caplog.records)
    assert gw.app.store.db.engine.sync_engine.pool is not pool  # disposed: a new, empty pool
    with sqlite3.connect(tmp_path / "waystation.db") as db:
        found = db.execute("SELECT count(*) FROM traces WHERE request_id = ?",
                           ("shutdown-check-1",)).fetchone()[0]
    assert found == 1
