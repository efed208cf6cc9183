"""Injectable time, randomness and ids, so tests can fix them."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


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
        value = (int(self.now() * 1000) << 80) | self._ids.getrandbits(80)
        out = []
        for _ in range(26):
            out.append(_CROCKFORD[value & 31])
            value >>= 5
        return "".join(reversed(out))
