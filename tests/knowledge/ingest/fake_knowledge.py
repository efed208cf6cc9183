"""A small `KnowledgeService` for the ingestion tests: knowledge bases, datasources with their
status history, and chunks, in memory or in a JSON file (so that a second CLI process sees
what the first one indexed)."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from waystation.errors import NotFound
from waystation.knowledge.ports import DatasourceStatus, NewChunk


class FakeKnowledge:
    def __init__(self, kbs: tuple[str, ...] = ("docs",), state: Path | None = None,
                 fail_add_after: int | None = None) -> None:
        self.state = state
        self.fail_add_after = fail_add_after  # raise on add_chunks once this many were stored
        self.kbs = set(kbs)
        self.datasources: dict[str, dict[str, Any]] = {}
        self.chunks: dict[str, list[dict[str, Any]]] = {}
        if state is not None and state.exists():
            saved = json.loads(state.read_text())
            self.datasources, self.chunks = saved["datasources"], saved["chunks"]
        self._ids = itertools.count(len(self.datasources) + 1)

    def _save(self) -> None:
        if self.state is not None:
            self.state.write_text(json.dumps({"datasources": self.datasources,
                                              "chunks": self.chunks}))

    async def resolve(self, ref: str) -> dict[str, Any]:
        if ref not in self.kbs:
            raise NotFound(f"No knowledge base with id or key {ref!r}.")
        return {"_id": ref, "key": ref}

    async def create_datasource(self, kb_ref: str, *, display_name: str,
                                file_id: str | None = None,
                                metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.resolve(kb_ref)
        ds_id = f"ds{next(self._ids)}"
        self.datasources[ds_id] = {"_id": ds_id, "kb": kb_ref, "display_name": display_name,
                                   "file_id": file_id, "metadata": metadata or {},
                                   "status": "pending", "history": ["pending"],
                                   "reason": None, "chunks_count": 0}
        self.chunks[ds_id] = []
        self._save()
        return dict(self.datasources[ds_id])

    async def set_datasource_status(self, kb_ref: str, datasource_id: str,
                                    status: DatasourceStatus, *, reason: str | None = None,
                                    chunks_count: int | None = None) -> None:
        ds = self.datasources[datasource_id]
        ds["status"], ds["reason"] = status, reason
        ds["history"].append(status)
        if chunks_count is not None:
            ds["chunks_count"] = chunks_count
        self._save()

    async def add_chunks(self, kb_ref: str, datasource_id: str,
                         chunks: list[NewChunk]) -> list[str]:
        stored = self.chunks[datasource_id]
        if self.fail_add_after is not None and len(stored) >= self.fail_add_after:
            raise RuntimeError("embedding provider answered 503")
        stored.extend(asdict(c) for c in chunks)
        self._save()
        return [f"{datasource_id}-{i}" for i in range(len(stored) - len(chunks), len(stored))]

    async def has_source(self, kb_ref: str, content_hash: str) -> bool:
        return any(ds["kb"] == kb_ref and ds["status"] == "completed"
                   and ds["metadata"].get("content_hash") == content_hash
                   for ds in self.datasources.values())
