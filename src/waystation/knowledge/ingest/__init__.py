"""Ingestion: files → parsed, cleaned, chunked text, indexed through `KnowledgeService`.

`parse` (formats) → `cleanup` (orq's cleanup options) → `chunking` (default / advanced) form
the pure `pipeline`; `index` feeds its chunks to the engine in batches and moves the
datasource's status; `worker` runs that in the background for `/v2/knowledge/…/datasources`
created with a `file_id`.
"""

from waystation.knowledge.ingest.errors import IngestError
from waystation.knowledge.ingest.index import index_file
from waystation.knowledge.ingest.pipeline import MAX_FILE_BYTES, content_hash, prepare
from waystation.knowledge.ingest.worker import BackgroundIngestor, StoredFile

__all__ = ["MAX_FILE_BYTES", "BackgroundIngestor", "IngestError", "StoredFile",
           "content_hash", "index_file", "prepare"]
