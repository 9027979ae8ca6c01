"""Room ids: unguessable names from the OS's CSPRNG (``uuid`` or ``human-short``)."""

from __future__ import annotations

import os
import uuid

# human-short: no 0/o, 1/l/i, 2/z, 5/s, u/v lookalikes
HUMAN_ALPHABET = "abcdefghjkmnpqrtwxy346789"
HUMAN_LENGTH = 6


class RandomPool:
    """Bytes from the OS's CSPRNG, fetched in blocks: one getrandom() call per block.

    Each os.urandom() call releases the GIL, handing it to the store's thread under
    load; fetching 4 KiB at a time keeps room creation off that path.
    """

    def __init__(self, block: int = 4096) -> None:
        self._block = block
        self._buf = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._buf):
            self._buf = os.urandom(max(self._block, n))
            self._pos = 0
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out


def generate_name(pattern: str, pool: RandomPool | None = None) -> str:
    pool = pool or RandomPool(64)
    if pattern == "human-short":
        chars: list[str] = []
        limit = 256 - 256 % len(HUMAN_ALPHABET)      # rejection sampling: no modulo bias
        while len(chars) < HUMAN_LENGTH:
            for b in pool.take(HUMAN_LENGTH):
                if b < limit and len(chars) < HUMAN_LENGTH:
                    chars.append(HUMAN_ALPHABET[b % len(HUMAN_ALPHABET)])
        return "".join(chars)
    return str(uuid.UUID(bytes=pool.take(16), version=4))   # 122 random bits
