"""`waystation …` with the knowledge engine replaced by `FakeKnowledge` kept in the JSON file
named by FAKE_KNOWLEDGE_STATE: the CLI tests run this as a subprocess, so that resuming is
tested across real, separate runs of the command."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.knowledge.ingest.fake_knowledge import FakeKnowledge
from waystation.cli import kb
from waystation.cli.main import app
from waystation.config.settings import Settings


@asynccontextmanager
async def _fake(_settings: Settings) -> AsyncIterator[FakeKnowledge]:
    fail = os.environ.get("FAKE_KNOWLEDGE_FAIL_AFTER")
    yield FakeKnowledge(state=Path(os.environ["FAKE_KNOWLEDGE_STATE"]),
                        fail_add_after=int(fail) if fail else None)


if __name__ == "__main__":
    kb.open_knowledge = _fake  # type: ignore[assignment]
    app()
