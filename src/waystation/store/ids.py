"""ULIDs for stored entities: sortable by creation time, so cursor pagination is by id."""

from __future__ import annotations

import os
import re
import time

from waystation.clock import ulid_text

_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


def new_ulid(at: float | None = None) -> str:
    """A ULID for time `at` (unix seconds; now by default)."""
    millis = int((time.time() if at is None else at) * 1000)
    return ulid_text(millis, int.from_bytes(os.urandom(10), "big"))


def is_ulid(value: str | None) -> bool:
    """26 Crockford base-32 digits, the first at most 7."""
    return value is not None and _ULID.fullmatch(value) is not None
