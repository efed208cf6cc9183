"""The orq `chunking_cleanup_options`, each a pure `str -> str` function.

They run on parsed text before chunking, so a deleted e-mail address or phone number never
reaches the index (nor the embedding provider). Each is deliberately conservative: it removes
what it names and leaves everything else byte for byte, which the golden tests pin down.
Order matters only between the deleters and `clean_whitespaces` (deleting leaves double
spaces behind), so whitespace is always cleaned last.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13 to 19 digits in groups separated by single spaces or dashes (Visa, Mastercard, Amex, …)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# + country code, area code in optional parentheses, groups separated by space, dot or dash;
# at least 7 digits in all so that years, prices and version numbers survive.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
)
_BULLET = re.compile(r"^([ \t]*)(?:[\u2022\u25cf\u25cb\u25e6\u25aa\u25ab\u25a0\u25a1\u2023\u2043"
                     r"\u2219\u00b7*+-])[ \t]+", re.MULTILINE)
_NUMBERED = re.compile(r"^([ \t]*)(?:\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|[ivxIVX]{1,4}[.)])[ \t]+",
                       re.MULTILINE)
_DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uFE58\uFE63\uFF0D]")
_SPACES = re.compile(r"[ \t\u00A0\u2000-\u200B\u202F\u205F\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201C": '"', "\u201D": '"',
                         "\u2026": "...", "\u00AD": ""})


def delete_emails(text: str) -> str:
    return _EMAIL.sub("", text)


def _is_card(candidate: str) -> bool:
    """Luhn's check, so order numbers and long ids that merely look like cards are kept."""
    digits = [int(c) for c in candidate if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return 13 <= len(digits) <= 19 and total % 10 == 0


def delete_credit_cards(text: str) -> str:
    return _CARD.sub(lambda m: "" if _is_card(m.group()) else m.group(), text)


def delete_phone_numbers(text: str) -> str:
    def drop(match: re.Match[str]) -> str:
        digits = sum(c.isdigit() for c in match.group())
        return "" if 7 <= digits <= 15 else match.group()

    return _PHONE.sub(drop, text)


def clean_bullet_points(text: str) -> str:
    """`• item` / `- item` / `* item` at a line start become `item` (indentation kept)."""
    return _BULLET.sub(r"\1", text)


def clean_numbered_list(text: str) -> str:
    """`1. item`, `2) item`, `a) item`, `iv. item` at a line start become `item`."""
    return _NUMBERED.sub(r"\1", text)


def clean_unicode(text: str) -> str:
    """NFKC-normalise (ligatures, full-width forms), straighten quotes, drop control and
    zero-width characters that PDFs and word processors leave behind."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in
                   ("Cc", "Cf", "Co", "Cs"))


def clean_dashes(text: str) -> str:
    """Every dash-like character (en, em, minus, figure dash, …) becomes `-`."""
    return _DASHES.sub("-", text)


def clean_whitespaces(text: str) -> str:
    """Runs of spaces become one, lines lose trailing spaces, at most one blank line in a row."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n")
             .replace("\r", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


CLEANERS: dict[str, Callable[[str], str]] = {
    "delete_emails": delete_emails,
    "delete_credit_cards": delete_credit_cards,
    "delete_phone_numbers": delete_phone_numbers,
    "clean_bullet_points": clean_bullet_points,
    "clean_numbered_list": clean_numbered_list,
    "clean_unicode": clean_unicode,
    "clean_dashes": clean_dashes,
    "clean_whitespaces": clean_whitespaces,
}


def clean(text: str, options: Iterable[str]) -> str:
    """Apply the named cleaners in a fixed order (whitespace last); unknown names raise."""
    chosen = set(options)
    unknown = chosen - CLEANERS.keys()
    if unknown:
        raise ValueError(f"unknown cleanup option(s): {', '.join(sorted(unknown))}")
    for name, cleaner in CLEANERS.items():
        if name in chosen:
            text = cleaner(text)
    return text
