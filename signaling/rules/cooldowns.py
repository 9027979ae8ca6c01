"""The knock limits of one node: the reject cooldown and the knock rate per address. Pure: ``now`` is passed in.

A rejected knocker may not knock on that room again for ``cooldown_seconds``; the keys it is remembered
by are chosen by the caller (the live room uses the participant and the (address, name skeleton) pair:
docs/protocol.md "Rate limits and cooldowns"). Knocks per address are bounded per minute.
docs/architecture.md "Paths: a knock, an RTP packet".
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from ..errors import RateLimited, RejectedRecently


class Cooldowns:
    """Keys (e.g. (ip, display name)) that may not knock again until a time."""

    def __init__(self) -> None:
        self._until: dict[Any, float] = {}

    def add(self, key: Any, now: float, seconds: float) -> None:
        self._until[key] = max(self._until.get(key, 0.0), now + seconds)
        if len(self._until) > 1024:
            self.prune(now)

    def remaining(self, key: Any, now: float) -> float:
        until = self._until.get(key)
        if until is None:
            return 0.0
        if until <= now:
            del self._until[key]
            return 0.0
        return until - now

    def prune(self, now: float) -> None:
        for key in [k for k, t in self._until.items() if t <= now]:
            del self._until[key]


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (sliding window)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._events: dict[Any, deque[float]] = {}

    def hit(self, key: Any, now: float) -> float:
        """Record an event; returns 0 if allowed, else seconds until one is allowed (not recorded)."""
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if self.limit > 0 and len(events) >= self.limit:
            return events[0] + self.window - now
        events.append(now)
        if len(self._events) > 4096:
            for k in [k for k, q in self._events.items() if not q or q[-1] <= now - self.window]:
                del self._events[k]
        return 0.0


class KnockLimits:
    """Whether a knock may be made now, and the cooldown a rejection starts."""

    def __init__(self, cooldown_seconds: float = 30.0, knocks_per_minute: int = 30) -> None:
        self.seconds = cooldown_seconds
        self.cooldowns = Cooldowns()
        self.rate = RateLimiter(knocks_per_minute, 60.0)

    def check(self, keys: Iterable[Any], address: str, now: float) -> None:
        """Raise RejectedRecently while a key cools down, RateLimited past the address's rate; else
        count this knock."""
        for key in keys:
            left = self.cooldowns.remaining(key, now)
            if left > 0:
                raise RejectedRecently(retryAfter=int(left) + 1)
        wait = self.rate.hit(address, now)
        if wait > 0:
            raise RateLimited(retryAfter=int(wait) + 1)

    def turned_away(self, keys: Iterable[Any], now: float) -> None:
        """A knock was rejected: these keys may not knock for ``seconds``."""
        for key in keys:
            self.cooldowns.add(key, now, self.seconds)

    def retry_after(self, keys: Iterable[Any], now: float) -> int:
        """Whole seconds until none of these keys cools down any more (0: may knock now)."""
        left = max((self.cooldowns.remaining(key, now) for key in keys), default=0.0)
        return int(left) + 1 if left > 0 else 0
