"""`waystation kb ingest` as a separate process: folders walked, one line per failed file, a
summary, resumed runs skipping what is indexed (by content, not name), and a clear message
when no knowledge engine is available."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.knowledge.ingest import samples
from waystation.config.settings import load_settings
from waystation.server.app import create_app


def _run(tmp_path: Path, *args: str, fake: bool = True,
         **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "WAYSTATION_HOME": str(tmp_path / "home"),
                "FAKE_KNOWLEDGE_STATE": str(tmp_path / "state.json"), "COLUMNS": "200", **env}
    command = ([sys.executable, "-m", "tests.knowledge.ingest.cli_with_fake"] if fake
               else [sys.executable, "-m", "waystation.cli.main"])
    return subprocess.run([*command, "kb", "ingest", *args], capture_output=True, text=True,
                          env=full_env, timeout=120, cwd=Path(__file__).parents[3])


def _corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_bytes(samples.MARKDOWN)
    (docs / "sub" / "b.csv").write_bytes(samples.CSV)
    (docs / "sub" / "c.pdf").write_bytes(samples.pdf(["Page one.", "Page two."]))
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 nothing")
    (docs / "image.png").write_bytes(b"\x89PNG")  # not a supported kind: not even tried
    (docs / ".hidden.txt").write_text("secret")
    return docs


def _state(tmp_path: Path) -> dict[str, dict[str, dict[str, object]]]:
    state: dict[str, dict[str, dict[str, object]]] = json.loads(
        (tmp_path / "state.json").read_text())
    return state


def test_ingest_walks_folders_reports_failures_and_resumes(tmp_path: Path) -> None:
    docs = _corpus(tmp_path)
    first = _run(tmp_path, str(docs), "--kb", "docs")
    assert first.returncode == 1, first.stderr
    assert f"FAILED {docs / 'broken.pdf'}: corrupt_file:" in first.stderr
    assert first.stdout.strip().splitlines()[-1] == \
        "3 indexed (6 chunks), 0 skipped (already indexed), 1 failed"
    names = sorted(str(ds["display_name"]) for ds in _state(tmp_path)["datasources"].values())
    assert names == ["a.md", "b.csv", "broken.pdf", "c.pdf"]

    (docs / "broken.pdf").unlink()
    (docs / "sub" / "renamed.md").write_bytes(samples.MARKDOWN)  # same bytes, new name
    (docs / "new.txt").write_text("A new file arrived.")
    second = _run(tmp_path, str(docs), "--kb", "docs")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == \
        "1 indexed (1 chunks), 4 skipped (already indexed), 0 failed"


def test_a_file_whose_indexing_failed_is_tried_again(tmp_path: Path) -> None:
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "long.txt").write_text(" ".join(f"Sentence {i} is here." for i in range(300)))
    failed = _run(tmp_path, str(docs), "--kb", "docs", "--chunking", "advanced",
                  "--max-chars", "100", FAKE_KNOWLEDGE_FAIL_AFTER="0")
    assert failed.returncode == 1 and "embedding_failed:" in failed.stderr
    again = _run(tmp_path, str(docs), "--kb", "docs", "--chunking", "advanced",
                 "--max-chars", "100")
    assert again.returncode == 0, again.stderr
    stored = sum(len(c) for c in _state(tmp_path)["chunks"].values())
    assert again.stdout.strip().endswith(f"1 indexed ({stored} chunks), 0 skipped (already "
                                         "indexed), 0 failed")


def test_cleanup_options_and_unknown_kbs(tmp_path: Path) -> None:
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "pii.txt").write_text("Mail ana@example.org please.")
    done = _run(tmp_path, str(docs), "--kb", "docs", "--cleanup",
                "delete_emails,clean_whitespaces")
    assert done.returncode == 0, done.stderr
    chunks = [c for cs in _state(tmp_path)["chunks"].values() for c in cs]
    assert [c["text"] for c in chunks] == ["Mail please."]  # type: ignore[index]
    bad = _run(tmp_path, str(docs), "--kb", "docs", "--cleanup", "delete_names")
    assert bad.returncode == 2 and "delete_names" in bad.stderr
    unknown = _run(tmp_path, str(docs), "--kb", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr


def test_ingest_into_the_real_engine_with_a_local_model_and_resume(tmp_path: Path) -> None:
    pytest.importorskip("wordllama")
    env = {"WAYSTATION_HOME": str(tmp_path / "home"), "WAYSTATION_MASTER_KEY": "k"}

    async def make_kb() -> None:
        app = create_app(load_settings(env))
        await app.startup()
        try:
            await app.knowledge.create_kb({"key": "handbook", "path": "docs/handbook",
                                           "embedding_model": "local/wordllama"})
        finally:
            await app.shutdown()

    asyncio.run(make_kb())
    docs = _corpus(tmp_path)
    (docs / "broken.pdf").unlink()
    first = _run(tmp_path, str(docs), "--kb", "handbook", fake=False, **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == \
        "3 indexed (6 chunks), 0 skipped (already indexed), 0 failed"
    again = _run(tmp_path, str(docs), "--kb", "handbook", fake=False, **env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == \
        "0 indexed (0 chunks), 3 skipped (already indexed), 0 failed"
