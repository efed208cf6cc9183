"""ULIDs for stored entities: sortable by creation time, so cursor pagination is by id."""

from __future__ import annotations

import os
import time

from waystation.clock import ulid_text

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(at: float | None = None) -> str:
    """A ULID for time `at` (unix seconds; now by default)."""
    millis = int((time.time() if at is None else at) * 1000)
    return ulid_text(millis, int.from_bytes(os.urandom(10), "big"))


def is_ulid(value: str | None) -> bool:
    """26 Crockford base-32 digits, the first at most 7 (checked once per stored trace, so by
    string methods: a regular expression took several times as long)."""
    return (value is not None and len(value) == 26 and "0" <= value[0] <= "7"
            and not value.strip(_CROCKFORD))
