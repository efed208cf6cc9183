"""Parsing and chunking golden files: each sample document (made by `samples`) with its
chunking options → the exact chunks (text and metadata) it must produce.

Run with WAYSTATION_UPDATE_GOLDEN=1 to rewrite `golden/*.json` after a deliberate change, then
read the diff: the goldens are the specification of what a document becomes in an index.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import orjson
import pytest

from tests.knowledge.ingest import samples
from waystation.knowledge.ingest.pipeline import prepare
from waystation.knowledge.ports import ChunkingOptions

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("WAYSTATION_UPDATE_GOLDEN") == "1"
LONG = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(60))

CASES: dict[str, tuple[Callable[[], bytes], str, ChunkingOptions]] = {
    "pdf_pages": (lambda: samples.pdf(["Hello page one.", "Second page (two) text."]),
                  "manual.pdf", ChunkingOptions()),
    "docx_paragraphs_and_table": (samples.docx, "policy.docx", ChunkingOptions()),
    "html_main_text": (lambda: samples.HTML, "returns.html", ChunkingOptions()),
    "markdown_markup_removed": (lambda: samples.MARKDOWN, "setup.md",
                                ChunkingOptions(cleanup=frozenset({"clean_whitespaces"}))),
    "csv_rows": (lambda: samples.CSV, "stock.csv", ChunkingOptions()),
    "text_default_500": (lambda: LONG.encode(), "long.txt", ChunkingOptions()),
    "text_advanced_60_overlap_20": (
        lambda: samples.TEXT, "short.txt",
        ChunkingOptions(kind="advanced", max_characters=60, overlap=20)),
    "text_cleanup_all": (
        lambda: ("• Call +1 (555) 123-4567 or mail ana@example.org\n"
                 "2) Card 4111 1111 1111 1111 — expires “soon”\n\n\n\nﬁnal   line").encode(),
        "pii.txt", ChunkingOptions(cleanup=frozenset({
            "delete_emails", "delete_credit_cards", "delete_phone_numbers",
            "clean_bullet_points", "clean_numbered_list", "clean_unicode", "clean_dashes",
            "clean_whitespaces"}))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_sample_document_becomes_its_golden_chunks(name: str) -> None:
    make, file_name, options = CASES[name]
    actual = [asdict(c) for c in prepare(make(), file_name, options)]
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.write_bytes(orjson.dumps({"file_name": file_name, "chunks": actual},
                                      option=orjson.OPT_INDENT_2) + b"\n")
    assert path.exists(), f"{path.name} missing; run with WAYSTATION_UPDATE_GOLDEN=1"
    expected = orjson.loads(path.read_bytes())["chunks"]
    assert actual == expected


def test_every_golden_file_has_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(CASES)
