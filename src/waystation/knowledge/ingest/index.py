"""Indexing one file's bytes into a datasource through `KnowledgeService`, with its status
moving processing → completed | failed. The background worker and the CLI both call this.

Parsing runs in a worker thread (a 10 MB PDF takes seconds of CPU); chunks go to `add_chunks`
in batches, so the engine embeds a batch per call and a huge file never sits in one request
to the embedding provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from waystation.knowledge.ingest.errors import IngestError
from waystation.knowledge.ingest.pipeline import prepare
from waystation.knowledge.ports import ChunkingOptions, KnowledgeService, NewChunk

log = logging.getLogger("waystation.knowledge.ingest")
DEFAULT_BATCH = 64


async def index_file(
    knowledge: KnowledgeService, kb_ref: str, datasource_id: str, data: bytes, file_name: str,
    options: ChunkingOptions, *, content_type: str | None = None, batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Index the file; returns its chunk count. Failures are recorded on the datasource (with
    their reason) and raised as `IngestError`."""
    await knowledge.set_datasource_status(kb_ref, datasource_id, "processing")
    try:
        chunks = await asyncio.to_thread(prepare, data, file_name, options, content_type)
        await _add(knowledge, kb_ref, datasource_id, chunks, batch_size, progress)
    except IngestError as error:
        await _fail(knowledge, kb_ref, datasource_id, error)
        raise
    except Exception as error:  # a parser bug must still end as `failed`, not `processing`
        wrapped = IngestError("corrupt_file", f"{type(error).__name__}: {error}")
        await _fail(knowledge, kb_ref, datasource_id, wrapped)
        raise wrapped from error
    await knowledge.set_datasource_status(kb_ref, datasource_id, "completed",
                                          chunks_count=len(chunks))
    return len(chunks)


async def _add(
    knowledge: KnowledgeService, kb_ref: str, datasource_id: str, chunks: list[NewChunk],
    batch_size: int, progress: Callable[[int, int], None] | None,
) -> None:
    done = 0
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start:start + batch_size]
        try:
            await knowledge.add_chunks(kb_ref, datasource_id, batch)
        except Exception as error:
            raise IngestError("embedding_failed", f"embedding or storing chunks "
                              f"{start}-{start + len(batch) - 1} failed: "
                              f"{type(error).__name__}: {error}") from error
        done += len(batch)
        if progress is not None:
            progress(done, len(chunks))


async def _fail(
    knowledge: KnowledgeService, kb_ref: str, datasource_id: str, error: IngestError
) -> None:
    try:
        await knowledge.set_datasource_status(kb_ref, datasource_id, "failed",
                                              reason=error.reason)
    except Exception:
        log.exception("could not mark datasource %s failed (%s)", datasource_id, error.reason)
