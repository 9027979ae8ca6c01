"""REST rate limits per API key, in Whereby's shape: a budget of points per minute. Pure, but for the port.

docs/architecture.md "Limits"; docs/compatibility.md "Rate limits". Whereby's documented rule
(its API reference, "Rate limiting (throttling)"): a read costs 1 point, a delete 2 and a write 3; the
budget is per minute; a throttled request gets 429 with ``Retry-After`` (seconds) and
``X-RateLimit-Reset`` (a date), and ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` carry the
budget and what is left of it. Here the budget is per API key (``rest_rate_limit_per_minute``) in
fixed windows aligned on the minute of the wall clock, so every node of a cluster counts in the same
window on one shared counter (server/cluster/rate_limits.py); a refused request costs nothing.

A key is counted under its ``key_id`` (a digest): the key itself is never stored, logged or sent.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Callable, Protocol

WINDOW_SECONDS = 60.0
_COSTS = {"GET": 1, "HEAD": 1, "OPTIONS": 1, "DELETE": 2}   # every other method is a write: 3


def request_cost(method: str) -> int:
    return _COSTS.get(method.upper(), 3)


def key_id(api_key: str) -> str:
    """A short stable name for an API key (logs, counters): not the key, and not reversible."""
    return "k" + hashlib.sha256(api_key.encode("utf-8", "replace")).hexdigest()[:12]


class Counters(Protocol):
    """Where the points are counted: in memory (one node) or in Redis (the cluster)."""

    async def take(self, bucket: str, cost: int, limit: int, ttl_ms: int) -> tuple[int, bool]:
        """Add ``cost`` to ``bucket`` if that stays within ``limit``: (points used after, taken)."""
        ...


class MemoryCounters:
    """The counters of one node."""

    def __init__(self) -> None:
        self._used: dict[str, tuple[int, float]] = {}    # bucket -> (points, expires at, monotonic)

    async def take(self, bucket: str, cost: int, limit: int, ttl_ms: int) -> tuple[int, bool]:
        now = time.monotonic()
        used, expires = self._used.get(bucket, (0, 0.0))
        if expires <= now:
            used, expires = 0, now + ttl_ms / 1000
        if used + cost > limit:
            return used, False
        self._used[bucket] = (used + cost, expires)
        if len(self._used) > 4096:
            for b in [b for b, (_, e) in self._used.items() if e <= now]:
                del self._used[b]
        return used + cost, True


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float          # epoch seconds: the end of the window
    retry_after: int         # seconds (0 when allowed)

    def headers(self) -> dict[str, str]:
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
               "X-RateLimit-Reset": formatdate(self.reset_at, usegmt=True)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimits:
    """``points_per_minute`` per API key (0: no limit) on ``counters``."""

    def __init__(self, points_per_minute: int, counters: Counters, *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.limit, self.counters, self.wall_clock = points_per_minute, counters, wall_clock

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    async def take(self, key_name: str, cost: int) -> Verdict:
        now = self.wall_clock()
        window = math.floor(now / WINDOW_SECONDS)
        reset_at = (window + 1) * WINDOW_SECONDS
        ttl_ms = int((reset_at - now) * 1000) + 1000
        used, taken = await self.counters.take(f"{key_name}:{window}", cost, self.limit, ttl_ms)
        retry = 0 if taken else max(1, math.ceil(reset_at - now))
        return Verdict(taken, self.limit, max(0, self.limit - used), reset_at, retry)
