"""One file → the chunks to index: parse, clean, chunk, and label each chunk with where it came
from. Pure and synchronous (run it in a worker thread); the background worker and the
`waystation kb ingest` command both use it, so a file ingests the same either way."""

from __future__ import annotations

import hashlib

from waystation.knowledge.ingest.chunking import chunk_text, limits
from waystation.knowledge.ingest.cleanup import clean
from waystation.knowledge.ingest.errors import IngestError
from waystation.knowledge.ingest.parse import parse
from waystation.knowledge.ports import ChunkingOptions, NewChunk

MAX_FILE_BYTES = 10 * 1024 * 1024  # what orq accepts for a datasource file


def content_hash(data: bytes) -> str:
    """The key a resumed ingest recognises a file by: its bytes, not its name or path."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def prepare(
    data: bytes, file_name: str, options: ChunkingOptions, content_type: str | None = None
) -> list[NewChunk]:
    """The chunks of a file, numbered in document order; `IngestError` when there are none."""
    if len(data) > MAX_FILE_BYTES:
        raise IngestError("too_large", f"{file_name!r} is {len(data)} bytes; the limit is "
                          f"{MAX_FILE_BYTES}")
    try:
        limits(options)
    except ValueError as error:
        raise IngestError("unsupported_type", str(error)) from None
    chunks: list[NewChunk] = []
    for section in parse(data, file_name, content_type):
        text = _tidy(clean(section.text, options.cleanup))
        for piece in chunk_text(text, options):
            metadata = {"source": file_name, **section.metadata, "chunk_index": len(chunks)}
            chunks.append(NewChunk(piece, metadata))
    if not chunks:
        raise IngestError("empty_text", f"{file_name!r} has no text left after cleanup")
    return chunks


def _tidy(text: str) -> str:
    """Lines are stripped whatever the cleanup options, so that chunk boundaries do not fall on
    runs of spaces (runs inside a line are `clean_whitespaces`' business)."""
    return "\n".join(line.strip() for line in text.splitlines()).strip()
