"""The background `Ingestor`: a bounded queue of files to index and a few asyncio workers.

`schedule` returns at once (the datasource answers `pending`); a worker reads the stored file,
indexes it with `index_file` and leaves the datasource `completed` or `failed` with a reason.
The queue is bounded so that a burst of uploads cannot hold unbounded memory: when it is full
`schedule` raises `IngestQueueFull` (503, retryable). Jobs still queued at shutdown are marked
failed ("interrupted"), never left pending for ever: the queue lives in this process only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from waystation.errors import GatewayError
from waystation.knowledge.ingest.errors import IngestError
from waystation.knowledge.ingest.index import DEFAULT_BATCH, index_file
from waystation.knowledge.ports import ChunkingOptions, KnowledgeService

log = logging.getLogger("waystation.knowledge.ingest")


class IngestQueueFull(GatewayError):
    status = 503
    code = "ingest_queue_full"


@dataclass(frozen=True, slots=True)
class StoredFile:
    file_name: str
    content_type: str | None
    data: bytes


class FileSource(Protocol):
    async def read(self, file_id: str) -> StoredFile:
        """The stored file; raises NotFound when there is none."""


@dataclass(frozen=True, slots=True)
class Job:
    kb_ref: str
    datasource_id: str
    file_id: str
    options: ChunkingOptions


class BackgroundIngestor:
    def __init__(
        self, knowledge: Callable[[], KnowledgeService | None], files: FileSource, *,
        queue_size: int = 256, workers: int = 2, batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self._knowledge = knowledge  # looked up per job: the engine is attached after us
        self._files = files
        self._queue: asyncio.Queue[Job] | None = None
        self._queue_size = queue_size
        self._workers = workers
        self._batch_size = batch_size
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        self._queue = asyncio.Queue(self._queue_size)
        self._tasks = [asyncio.create_task(self._work(), name=f"ingest-worker-{i}")
                       for i in range(self._workers)]

    def schedule(
        self, kb_ref: str, datasource_id: str, file_id: str, options: ChunkingOptions
    ) -> None:
        if self._queue is None:
            self.start()
        assert self._queue is not None
        try:
            self._queue.put_nowait(Job(kb_ref, datasource_id, file_id, options))
        except asyncio.QueueFull:
            raise IngestQueueFull(f"{self._queue_size} files are already waiting to be "
                                  "ingested; try again shortly.") from None

    async def wait_idle(self) -> None:
        """Until every scheduled file is finished (tests and orderly shutdowns)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        queue, self._queue = self._queue, None
        knowledge = self._knowledge()
        while queue is not None and not queue.empty():
            job = queue.get_nowait()
            if knowledge is not None:
                try:
                    await knowledge.set_datasource_status(
                        job.kb_ref, job.datasource_id, "failed",
                        reason="interrupted: the gateway stopped before this file was "
                               "ingested; create the datasource again")
                except Exception:
                    log.exception("could not mark datasource %s failed", job.datasource_id)

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            job = await queue.get()
            try:
                await self._run(job)
            except Exception:
                log.exception("ingesting file %s into %s failed", job.file_id, job.kb_ref)
            finally:
                queue.task_done()

    async def _run(self, job: Job) -> None:
        knowledge = self._knowledge()
        if knowledge is None:
            log.error("no knowledge engine is attached; file %s is not ingested", job.file_id)
            return
        try:
            stored = await self._files.read(job.file_id)
        except Exception as error:
            reason = IngestError("file_missing", f"file {job.file_id!r} cannot be read: "
                                 f"{error}").reason
            await knowledge.set_datasource_status(job.kb_ref, job.datasource_id, "failed",
                                                  reason=reason)
            return
        try:
            count = await index_file(knowledge, job.kb_ref, job.datasource_id, stored.data,
                                     stored.file_name, job.options,
                                     content_type=stored.content_type,
                                     batch_size=self._batch_size)
            log.info("ingested %s into %s: %d chunks", stored.file_name, job.kb_ref, count)
        except IngestError as error:
            log.warning("ingesting %s into %s failed: %s", stored.file_name, job.kb_ref,
                        error.reason)
