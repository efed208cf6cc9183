"""A small corpus whose right answers can be read off: each chunk is about one thing."""

from __future__ import annotations

from typing import Any

from tests.knowledge.conftest import unique_key
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.ports import NewChunk

CORPUS: list[tuple[str, dict[str, Any]]] = [
    ("To reset your password, open Settings and choose Security.",
     {"topic": "account", "lang": "en", "year": 2021, "public": True}),
    ("Invoices are emailed monthly; billing happens on the first day of the month.",
     {"topic": "billing", "lang": "en", "year": 2023, "public": True}),
    ("Refunds for annual plans are prorated and paid back within ten days.",
     {"topic": "billing", "lang": "en", "year": 2024, "public": False}),
    ("Pour changer votre mot de passe, ouvrez les réglages.",
     {"topic": "account", "lang": "fr", "year": 2022}),
    ("The gateway retries rate limited requests with exponential backoff.",
     {"topic": "routing", "lang": "en", "year": 2020, "public": True}),
    ("Fallback models answer when the first provider fails.",
     {"topic": "routing", "lang": "en", "year": 2025, "public": False}),
]


async def load(engine: KnowledgeEngine, **settings: Any) -> tuple[str, str, list[str]]:
    """A knowledge base holding CORPUS: (key, datasource id, chunk ids in corpus order)."""
    key = unique_key()
    await engine.create_kb({"key": key, "embedding_model": "fake/words",
                            "retrieval_settings": settings or None})
    source = await engine.create_datasource(key, display_name="Handbook")
    ids = await engine.add_chunks(key, source["_id"],
                                  [NewChunk(text, meta) for text, meta in CORPUS])
    return key, source["_id"], ids
