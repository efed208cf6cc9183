"""Splitting cleaned text into chunks of at most `max_characters`.

Both orq configurations use one splitter that respects structure: it cuts at paragraph breaks
first, then sentence ends, then word gaps, and only cuts inside a word when a single word is
longer than a chunk. Pieces are packed greedily, so chunks come out close to the limit and a
sentence is split only when it cannot fit whole. `default` is 500 characters without overlap;
`advanced` takes `chunk_max_characters` and `chunk_overlap`, where the overlap repeats the tail
of the previous chunk (starting at a word boundary) at the head of the next, and still no
chunk is longer than the limit.
"""

from __future__ import annotations

import itertools
import re

from waystation.knowledge.ports import ChunkingOptions

DEFAULT_MAX_CHARACTERS = 500
_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile("(?<=[.!?\u2026\u3002\uff01\uff1f])" r"[\"')\]]*\s+|\n")
_WORD = re.compile(r"\s+")


def limits(options: ChunkingOptions) -> tuple[int, int]:
    """(max characters, overlap) for the options, validated."""
    if options.kind == "default":
        return DEFAULT_MAX_CHARACTERS, 0
    size, overlap = options.max_characters, options.overlap
    if size < 1:
        raise ValueError("chunk_max_characters must be at least 1")
    if not 0 <= overlap < size:
        raise ValueError("chunk_overlap must be at least 0 and less than chunk_max_characters")
    return size, overlap


def chunk_text(text: str, options: ChunkingOptions) -> list[str]:
    size, overlap = limits(options)
    return split(text, size, overlap)


def split(text: str, size: int, overlap: int = 0) -> list[str]:
    # with an overlap, bodies leave room for the tail they will be prefixed with, so no text
    # is ever dropped to make a chunk fit
    body = max(1, size - overlap - 1) if overlap else size
    chunks = _pack(_pieces(text.strip(), body), body)
    if overlap and len(chunks) > 1:
        chunks = _overlap(chunks, size, overlap)
    return [c for c in chunks if c]


def _pieces(text: str, size: int) -> list[str]:
    """Units no longer than `size`, each tagged by the separator that preceded it: paragraphs
    if they fit, else their sentences, else words, else hard slices of a word."""
    out: list[str] = []
    for p_index, paragraph in enumerate(_PARAGRAPH.split(text)):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        lead = "\n\n" if p_index and out else ""
        if len(paragraph) <= size:
            out.append(lead + paragraph)
            continue
        first = True
        for sentence in _SENTENCE.split(paragraph):
            sentence = sentence.strip()
            if not sentence:
                continue
            for word_piece in _sentence_pieces(sentence, size):
                out.append((lead if first else " ") + word_piece)
                first = False
    return out


def _sentence_pieces(sentence: str, size: int) -> list[str]:
    if len(sentence) <= size:
        return [sentence]
    words: list[str] = []
    for word in _WORD.split(sentence):
        while len(word) > size:
            words.append(word[:size])
            word = word[size:]
        if word:
            words.append(word)
    return words


def _pack(pieces: list[str], size: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if not current:
            current = piece.lstrip()
        elif len(current) + len(piece) <= size:
            current += piece
        else:
            chunks.append(current)
            current = piece.lstrip()
    if current:
        chunks.append(current)
    return chunks


def _overlap(chunks: list[str], size: int, overlap: int) -> list[str]:
    """Prefix each chunk with up to `overlap` characters from the end of the one before (the
    original chunk, not its overlapped form), starting at a word boundary when there is one."""
    out = [chunks[0]]
    for previous, chunk in itertools.pairwise(chunks):
        tail = previous[-min(overlap, size - len(chunk) - 1):] if size > len(chunk) + 1 else ""
        gap = tail.find(" ")
        if len(previous) > len(tail) and 0 <= gap < len(tail) - 1:
            tail = tail[gap + 1:]
        out.append(f"{tail} {chunk}" if tail.strip() else chunk)
    return out
