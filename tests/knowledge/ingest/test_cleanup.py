"""Each orq cleanup option removes what it names and nothing else."""

from __future__ import annotations

import pytest

from waystation.knowledge.ingest import cleanup

CASES = [
    ("delete_emails", "write to ana.b+x@mail.example.org today", "write to  today"),
    ("delete_emails", "not@an email, 2@3", "not@an email, 2@3"),
    ("delete_credit_cards", "card 4111 1111 1111 1111 ok", "card  ok"),
    ("delete_credit_cards", "card 4111-1111-1111-1111", "card "),
    ("delete_credit_cards", "order 1234567890123456 stays", "order 1234567890123456 stays"),
    ("delete_phone_numbers", "call +1 (555) 123-4567 now", "call  now"),
    ("delete_phone_numbers", "or 020 7946 0958.", "or ."),
    ("delete_phone_numbers", "in 2024 paid 1,250.00 for v1.2.3",
     "in 2024 paid 1,250.00 for v1.2.3"),
    ("clean_bullet_points", "\u2022 one\n  - two\n* three\nwell-known",
     "one\n  two\nthree\nwell-known"),
    ("clean_numbered_list", "1. one\n2) two\na) three\niv. four\n2024 was",
     "one\ntwo\nthree\nfour\n2024 was"),
    ("clean_unicode", "\ufb01ne \u201cquoted\u201d \u2018x\u2019\u2026\u200b\x07",
     "fine \"quoted\" 'x'..."),
    ("clean_dashes", "a \u2013 b \u2014 c \u2212 d \u2010 e", "a - b - c - d - e"),
    ("clean_whitespaces", "  a   b \t c  \n\n\n\n d  \r\n e", "a b c\n\nd\ne"),
]


@pytest.mark.parametrize(("name", "given", "expected"), CASES)
def test_each_cleanup_option_does_exactly_its_job(name: str, given: str, expected: str) -> None:
    assert cleanup.CLEANERS[name](given) == expected


def test_the_options_are_orqs_eight() -> None:
    assert set(cleanup.CLEANERS) == {
        "delete_emails", "delete_credit_cards", "delete_phone_numbers", "clean_bullet_points",
        "clean_numbered_list", "clean_unicode", "clean_dashes", "clean_whitespaces"}


def test_whitespace_is_cleaned_after_the_deleters() -> None:
    text = "mail ana@example.org  or call 555-123-4567 please"
    assert cleanup.clean(text, ["clean_whitespaces", "delete_emails", "delete_phone_numbers"]) \
        == "mail or call please"


def test_no_options_leave_the_text_alone() -> None:
    assert cleanup.clean("  a@b.co  • x ", []) == "  a@b.co  • x "


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="delete_names"):
        cleanup.clean("x", ["delete_names"])
