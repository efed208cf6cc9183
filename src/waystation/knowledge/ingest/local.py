"""Ingesting files from disk into a knowledge base (`waystation kb ingest`), resumably.

Each file becomes one datasource whose metadata carries the file's `content_hash`; a file
whose hash the knowledge base already has (`has_source`) is skipped, so re-running the same
command after an interruption, or over a folder that gained a few files, only does the new
work. Renamed or moved files are recognised by content; an edited file is new content.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from waystation.knowledge.ingest.errors import IngestError
from waystation.knowledge.ingest.formats import SUPPORTED
from waystation.knowledge.ingest.index import index_file
from waystation.knowledge.ingest.pipeline import MAX_FILE_BYTES, content_hash
from waystation.knowledge.ports import ChunkingOptions, KnowledgeService

Outcome = Literal["indexed", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class FileResult:
    path: Path
    outcome: Outcome
    chunks: int = 0
    reason: str | None = None


def discover(paths: Iterable[Path]) -> list[Path]:
    """The files to ingest: named files as given, folders walked recursively for files of a
    supported kind (hidden files and folders skipped); sorted, each once."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(p.startswith(".") for p in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in SUPPORTED:
                    found.setdefault(child, None)
        else:
            found.setdefault(path, None)
    return list(found)


async def ingest_file(
    knowledge: KnowledgeService, kb_ref: str, path: Path, options: ChunkingOptions,
    progress: Callable[[int, int], None] | None = None,
) -> FileResult:
    """One file: skipped if already indexed, else a new datasource filled with its chunks."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise IngestError("too_large", f"{path.stat().st_size} bytes; the limit is "
                              f"{MAX_FILE_BYTES}")
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        return FileResult(path, "failed", reason=f"file_missing: {error.strerror or error}")
    except IngestError as error:
        return FileResult(path, "failed", reason=error.reason)
    digest = content_hash(data)
    if await knowledge.has_source(kb_ref, digest):
        return FileResult(path, "skipped")
    source = await knowledge.create_datasource(
        kb_ref, display_name=path.name,
        metadata={"content_hash": digest, "source_path": str(path)})
    try:
        count = await index_file(knowledge, kb_ref, source["_id"], data, path.name, options,
                                 progress=progress)
    except IngestError as error:
        return FileResult(path, "failed", reason=error.reason)
    return FileResult(path, "indexed", chunks=count)
