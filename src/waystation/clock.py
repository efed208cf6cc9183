"""Injectable time, randomness and ids, so tests can fix them."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# every pair of Crockford digits, so a ULID is 13 lookups of 10 bits instead of 26 of 5: it is
# made for every request on the hot path
_DIGIT_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
_PAIR_SHIFTS = tuple(range(120, -1, -10))


def ulid_text(millis: int, random80: int) -> str:
    """The ULID of a millisecond time and 80 random bits: 26 Crockford base32 digits."""
    value = ((millis & 0xFFFF_FFFF_FFFF) << 80) | (random80 & ((1 << 80) - 1))
    pairs = _DIGIT_PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


@dataclass
class Clock:
    """Wall time for timestamps, a monotonic timer for durations, and a random source."""

    rng: random.Random = field(default_factory=random.Random)
    # request ids need uniqueness, not secrecy: a generator seeded once from the OS is enough,
    # and unlike os.urandom per call it never releases the GIL on the hot path
    _ids: random.Random = field(default_factory=lambda: random.Random(os.urandom(16)), repr=False)

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def ulid(self) -> str:
        """A ULID: 48-bit millisecond time then 80 random bits, Crockford base32."""
        return ulid_text(int(self.now() * 1000), self._ids.getrandbits(80))
