"""ULIDs: the encoding of time and randomness, and the ids the clock and the store make."""

from __future__ import annotations

import random

from waystation.clock import Clock, ulid_text
from waystation.store.ids import is_ulid, new_ulid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _by_digit(millis: int, random80: int) -> str:
    """The encoding spelt out one base32 digit at a time, most significant first."""
    value = (millis << 80) | random80
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def test_the_time_part_matches_the_ulid_specification() -> None:
    assert ulid_text(1469918176385, 0)[:10] == "01ARYZ6S41"  # the spec's own example


def test_extremes() -> None:
    assert ulid_text(0, 0) == "0" * 26
    assert ulid_text((1 << 48) - 1, (1 << 80) - 1) == "7" + "Z" * 25


def test_random_values_encode_digit_by_digit() -> None:
    rng = random.Random(7)
    for _ in range(2_000):
        millis, rest = rng.getrandbits(48), rng.getrandbits(80)
        assert ulid_text(millis, rest) == _by_digit(millis, rest)


def test_ids_sort_by_time_and_are_valid() -> None:
    clock = Clock()
    made = [clock.ulid(), new_ulid(1_700_000_000.0), new_ulid(1_700_000_000.5)]
    assert all(is_ulid(u) for u in made)
    assert made[1][:10] < made[2][:10] < made[0][:10]


def test_is_ulid_refuses_what_is_not_one() -> None:
    good = new_ulid(1_700_000_000.0)
    assert is_ulid(good) and is_ulid("7" + "Z" * 25) and is_ulid("0" * 26)
    for bad in (None, "", good[:-1], good + "0", "8" + good[1:], good.lower(),
                good[:5] + "I" + good[6:], good[:5] + "U" + good[6:], good[:25] + " ",
                good[:25] + "\n"):
        assert not is_ulid(bad), bad
