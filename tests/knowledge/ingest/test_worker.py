"""The background ingestor: status pending → processing → completed, or failed with the reason
for each kind of failure; parsing errors never leave a datasource `processing`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.knowledge.ingest import samples
from tests.knowledge.ingest.fake_knowledge import FakeKnowledge
from waystation.errors import NotFound
from waystation.knowledge.ingest.worker import BackgroundIngestor, IngestQueueFull, StoredFile
from waystation.knowledge.ports import ChunkingOptions


class Files:
    def __init__(self, **files: tuple[str, bytes]) -> None:
        self.files = files

    async def read(self, file_id: str) -> StoredFile:
        if file_id not in self.files:
            raise NotFound(f"No file with id {file_id!r}.")
        name, data = self.files[file_id]
        return StoredFile(name, None, data)


async def _ingest(knowledge: FakeKnowledge, files: Files, file_id: str,
                  options: ChunkingOptions | None = None, batch: int = 64) -> dict[str, Any]:
    ingestor = BackgroundIngestor(lambda: knowledge, files, batch_size=batch)
    ingestor.start()
    ds = await knowledge.create_datasource("docs", display_name=file_id, file_id=file_id)
    ingestor.schedule("docs", ds["_id"], file_id, options or ChunkingOptions())
    await ingestor.wait_idle()
    await ingestor.close()
    return knowledge.datasources[ds["_id"]]


async def test_a_file_is_indexed_in_batches_and_completed() -> None:
    knowledge = FakeKnowledge()
    text = " ".join(f"Line {i} of the manual." for i in range(200)).encode()
    ds = await _ingest(knowledge, Files(f1=("manual.txt", text)), "f1",
                       ChunkingOptions("advanced", 100, 0), batch=10)
    assert ds["history"] == ["pending", "processing", "completed"]
    stored = knowledge.chunks[ds["_id"]]
    assert ds["chunks_count"] == len(stored) > 10
    assert [c["metadata"]["chunk_index"] for c in stored] == list(range(len(stored)))
    assert {c["metadata"]["source"] for c in stored} == {"manual.txt"}


async def test_pdf_chunks_carry_their_page() -> None:
    knowledge = FakeKnowledge()
    ds = await _ingest(knowledge, Files(p=("a.pdf", samples.pdf(["One.", "Two."]))), "p")
    assert [c["metadata"]["page"] for c in knowledge.chunks[ds["_id"]]] == [1, 2]


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "unsupported_type"),
    ("blank.txt", b"  \n\n \t", "empty_text"),
    ("broken.pdf", b"%PDF-1.4\nnot really a pdf", "corrupt_file"),
    ("broken.docx", b"PK\x03\x04 truncated", "corrupt_file"),
    ("scan.pdf", samples.pdf([""]), "empty_text"),
])
async def test_each_unreadable_file_fails_with_its_reason(name: str, data: bytes,
                                                          kind: str) -> None:
    knowledge = FakeKnowledge()
    ds = await _ingest(knowledge, Files(f=(name, data)), "f")
    assert ds["history"] == ["pending", "processing", "failed"]
    assert ds["reason"].startswith(f"{kind}: ")
    assert name in ds["reason"] or kind == "corrupt_file"


async def test_an_embedding_failure_fails_the_datasource() -> None:
    knowledge = FakeKnowledge(fail_add_after=10)
    text = " ".join(f"Line {i} of the manual." for i in range(200)).encode()
    ds = await _ingest(knowledge, Files(f=("m.txt", text)), "f",
                       ChunkingOptions("advanced", 100, 0), batch=10)
    assert ds["history"][-1] == "failed"
    assert ds["reason"].startswith("embedding_failed: ") and "503" in ds["reason"]


async def test_a_missing_file_fails_the_datasource() -> None:
    knowledge = FakeKnowledge()
    ds = await _ingest(knowledge, Files(), "gone")
    assert ds["status"] == "failed" and ds["reason"].startswith("file_missing: ")


async def test_a_full_queue_refuses_with_a_retryable_503() -> None:
    knowledge = FakeKnowledge()
    ingestor = BackgroundIngestor(lambda: knowledge, Files(), queue_size=1, workers=0)
    ingestor.start()
    ingestor.schedule("docs", "ds1", "f", ChunkingOptions())
    with pytest.raises(IngestQueueFull) as caught:
        ingestor.schedule("docs", "ds2", "f", ChunkingOptions())
    assert caught.value.status == 503
    await ingestor.close()


async def test_files_still_queued_at_shutdown_are_marked_failed() -> None:
    knowledge = FakeKnowledge()
    ds = await knowledge.create_datasource("docs", display_name="a")
    ingestor = BackgroundIngestor(lambda: knowledge, Files(), workers=0)
    ingestor.start()
    ingestor.schedule("docs", ds["_id"], "f", ChunkingOptions())
    await ingestor.close()
    assert knowledge.datasources[ds["_id"]]["status"] == "failed"
    assert knowledge.datasources[ds["_id"]]["reason"].startswith("interrupted")
