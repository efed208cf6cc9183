"""Chunk sizes and overlap: never over the limit, nothing lost, cuts at sentence ends."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from waystation.knowledge.ingest.chunking import chunk_text, limits, split
from waystation.knowledge.ports import ChunkingOptions

SENTENCES = " ".join(f"This is sentence {i} of the test." for i in range(40))


def _words(text: str) -> list[str]:
    return text.split()


def test_default_chunks_are_at_most_500_characters_and_close_to_it() -> None:
    chunks = chunk_text(SENTENCES, ChunkingOptions())
    assert len(chunks) > 1
    assert all(len(c) <= 500 for c in chunks)
    assert all(len(c) > 400 for c in chunks[:-1])


def test_default_chunks_end_at_sentence_ends() -> None:
    assert all(c.endswith(".") for c in chunk_text(SENTENCES, ChunkingOptions()))


def test_default_ignores_the_advanced_numbers() -> None:
    assert limits(ChunkingOptions(max_characters=50, overlap=10)) == (500, 0)


def test_paragraphs_that_fit_stay_whole() -> None:
    text = "First paragraph here.\n\nSecond paragraph here."
    assert split(text, 25) == ["First paragraph here.", "Second paragraph here."]
    assert split(text, 100) == [text]


def test_a_word_longer_than_a_chunk_is_cut() -> None:
    assert split("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (100, 20), (60, 30), (300, 50)])
def test_advanced_chunks_respect_the_limit_and_lose_no_word(size: int, overlap: int) -> None:
    chunks = chunk_text(SENTENCES, ChunkingOptions("advanced", size, overlap))
    assert all(len(c) <= size for c in chunks)
    if overlap == 0:
        assert _words(" ".join(chunks)) == _words(SENTENCES)


def test_overlap_repeats_the_tail_of_the_previous_chunk() -> None:
    plain = chunk_text(SENTENCES, ChunkingOptions("advanced", 100, 0))
    lapped = chunk_text(SENTENCES, ChunkingOptions("advanced", 100, 30))
    assert len(lapped) > len(plain)  # bodies shrink to leave room for the overlap
    for previous, chunk in itertools.pairwise(lapped):
        tails = [previous[-n:] for n in range(1, 31) if chunk.startswith(previous[-n:] + " ")]
        assert tails, (previous, chunk)  # the chunk opens with the previous one's last words
    # bodies are packed to 100 - 30 - 1 characters, so the first chunk is such a body
    assert lapped[0] == chunk_text(SENTENCES, ChunkingOptions("advanced", 69, 0))[0]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_impossible_advanced_settings_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        limits(ChunkingOptions("advanced", size, overlap))


@pytest.mark.parametrize("seed", range(40))
def test_any_text_chunks_within_the_limit_keeping_its_characters(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice("ab .!?\n") for _ in range(rng.randint(0, 400)))
    size = rng.randint(5, 80)
    chunks = split(text, size)
    assert all(0 < len(c) <= size for c in chunks)
    assert "".join(re.sub(r"\s", "", c) for c in chunks) == re.sub(r"\s", "", text)
