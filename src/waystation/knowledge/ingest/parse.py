"""Files → sections of text, each with the metadata that locates it in its file.

A PDF gives one section per page (`page`, from 1), a CSV one per data row (`row`, from 1,
written as `header: value` lines so that a row embeds with the meaning of its columns), and
the other formats one section for the whole document. Parsing is CPU-bound and synchronous:
callers on the event loop run it in a worker thread.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

from waystation.knowledge.ingest.errors import IngestError
from waystation.knowledge.ingest.formats import SUPPORTED, Format, detect
from waystation.knowledge.ingest.html_text import html_to_text

Metadata = dict[str, str | int | float | bool]


@dataclass(frozen=True, slots=True)
class Section:
    text: str
    metadata: Metadata = field(default_factory=dict)


def parse(data: bytes, file_name: str, content_type: str | None = None) -> list[Section]:
    """The sections of a file, or an `IngestError` saying why there are none."""
    kind = detect(file_name, content_type, data[:8192])
    if kind is None:
        raise IngestError("unsupported_type", f"{file_name!r} is not a supported kind of file "
                          f"(supported: {', '.join(SUPPORTED)})")
    try:
        sections = _PARSERS[kind](data)
    except IngestError:
        raise
    except Exception as error:  # every parser library has its own exception tree
        raise IngestError("corrupt_file", f"{file_name!r} could not be read as "
                          f"{kind.upper()}: {type(error).__name__}: {error}") from error
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise IngestError("empty_text", f"{file_name!r} contains no text"
                          + (" (a scanned PDF needs OCR first)" if kind == "pdf" else ""))
    return sections


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252, which maps every
    byte, so a legacy file still reads rather than failing."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _text(data: bytes) -> list[Section]:
    return [Section(decode_text(data))]


def _pdf(data: bytes) -> list[Section]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise IngestError("corrupt_file", "the PDF is encrypted with a password")
    return [Section(page.extract_text() or "", {"page": number})
            for number, page in enumerate(reader.pages, start=1)]


def _docx(data: bytes) -> list[Section]:
    """Paragraphs and tables in document order (tables row by row, cells joined by ` | `)."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise IngestError("corrupt_file", "the DOCX file is not a ZIP package")
    document = Document(io.BytesIO(data))
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(item.text)
        elif isinstance(item, Table):
            rows = [" | ".join(dict.fromkeys(c.text.strip() for c in row.cells))
                    for row in item.rows]
            blocks.append("\n".join(rows))
    return [Section("\n\n".join(b.strip() for b in blocks if b.strip()))]


def _html(data: bytes) -> list[Section]:
    text, title = html_to_text(decode_text(data))
    return [Section(text, {"title": title} if title else {})]


_FENCE = re.compile(r"^[ \t]*(```|~~~).*$", re.MULTILINE)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|~~)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_CODE = re.compile(r"`([^`]+)`")
_RULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


def markdown_to_text(source: str) -> str:
    """Markdown without its markup: headings, emphasis, links (their text kept), images (their
    alt text kept), fences, rules, quotes and inline HTML tags."""
    text = _FRONT_MATTER.sub("", source.replace("\r\n", "\n"))
    text = _FENCE.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or "", text)
    text = _CODE.sub(r"\1", text)
    text = _RULE.sub("", text)
    text = _QUOTE.sub("", text)
    return _TAG.sub("", text)


def _markdown(data: bytes) -> list[Section]:
    return [Section(markdown_to_text(decode_text(data)))]


def _csv(data: bytes) -> list[Section]:
    text = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if header is None:
        return []
    names = [h.strip() or f"column {i}" for i, h in enumerate(header, start=1)]
    sections = []
    for number, row in enumerate(reader, start=1):
        pairs = [f"{names[i] if i < len(names) else f'column {i + 1}'}: {value.strip()}"
                 for i, value in enumerate(row) if value.strip()]
        if pairs:
            sections.append(Section("\n".join(pairs), {"row": number}))
    return sections


_PARSERS = {"pdf": _pdf, "docx": _docx, "html": _html, "markdown": _markdown, "text": _text,
            "csv": _csv}
FORMATS: tuple[Format, ...] = tuple(_PARSERS)  # type: ignore[arg-type]
