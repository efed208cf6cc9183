"""Which parser a file gets: by its extension first, then its declared content type, then a
look at its first bytes (a PDF starts with `%PDF`, a DOCX is a ZIP holding `word/`)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

Format = Literal["pdf", "docx", "html", "markdown", "text", "csv"]

_BY_SUFFIX: dict[str, Format] = {
    ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html", ".xhtml": "html",
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".txt": "text",
    ".text": "text", ".log": "text", ".rst": "text", ".csv": "csv", ".tsv": "csv",
}
_BY_TYPE: dict[str, Format] = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/html": "html", "application/xhtml+xml": "html", "text/markdown": "markdown",
    "text/x-markdown": "markdown", "text/plain": "text", "text/csv": "csv",
    "text/tab-separated-values": "csv",
}
SUPPORTED = tuple(sorted(_BY_SUFFIX))


def detect(file_name: str, content_type: str | None, head: bytes) -> Format | None:
    """The format to parse with, or None when the file is of a kind we do not read."""
    suffix = PurePath(file_name).suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared in _BY_TYPE:
        return _BY_TYPE[declared]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") and b"word/" in head:
        return "docx"
    if not suffix and head and b"\x00" not in head[:4096]:
        return "text"  # an extension-less text file (README, LICENSE, …)
    return None
