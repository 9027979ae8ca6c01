"""The abuse limits of one node: the reject cooldown, knock, join and chat rates. Pure: ``now`` is passed in.

A rejected knocker may not knock on that room again for ``cooldown_seconds``; the keys it is remembered
by are chosen by the caller (the live room uses the participant and the (address, name skeleton) pair:
docs/protocol.md "Rate limits and cooldowns"). Knocks are bounded per address per minute, per room per
minute, by a minimum interval per address, and by the pending knocks one address may have in a room;
joins per address and per room per minute; chat messages per participant per second and per minute.
Every limit is off at 0. docs/architecture.md "Paths: a knock, an RTP packet" and "Limits".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import KnockPending, RateLimited, RejectedRecently


@dataclass(frozen=True)
class AbuseLimits:
    """The node's join, knock and chat limits beyond the cooldown and knocks per address (0: none)."""

    joins_per_ip_per_minute: int = 0
    joins_per_room_per_minute: int = 0
    knocks_per_room_per_minute: int = 0
    pending_knocks_per_ip: int = 0          # pending knocks one address may have in one room
    min_knock_interval_seconds: float = 0.0  # between two knocks from one address
    chat_per_second: int = 0                # per participant
    chat_per_minute: int = 0


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
        wait = self.wait(key, now)
        if wait <= 0:
            self.record(key, now)
        return wait

    def wait(self, key: Any, now: float) -> float:
        """Seconds until an event for ``key`` is allowed (0: now); records nothing."""
        if self.limit <= 0:
            return 0.0
        events = self._events.get(key)
        if not events:
            return 0.0
        while events and events[0] <= now - self.window:
            events.popleft()
        return events[0] + self.window - now if len(events) >= self.limit else 0.0

    def record(self, key: Any, now: float) -> None:
        if self.limit <= 0:
            return
        self._events.setdefault(key, deque()).append(now)
        if len(self._events) > 4096:
            for k in [k for k, q in self._events.items() if not q or q[-1] <= now - self.window]:
                del self._events[k]

    def forget(self, key: Any) -> None:
        self._events.pop(key, None)


def hit_all(pairs: Iterable[tuple[RateLimiter, Any]], now: float) -> float:
    """One event on several limiters: recorded on all of them only if all allow it; else the longest
    wait (seconds)."""
    pairs = list(pairs)
    wait = max((limiter.wait(key, now) for limiter, key in pairs), default=0.0)
    if wait <= 0:
        for limiter, key in pairs:
            limiter.record(key, now)
    return wait


def _retry(wait: float) -> int:
    return int(wait) + 1


class KnockLimits:
    """Whether a knock may be made now, and the cooldown a rejection starts."""

    def __init__(self, cooldown_seconds: float = 30.0, knocks_per_minute: int = 30,
                 abuse: AbuseLimits | None = None) -> None:
        abuse = abuse or AbuseLimits()
        self.seconds = cooldown_seconds
        self.cooldowns = Cooldowns()
        self.rate = RateLimiter(knocks_per_minute, 60.0)
        self.room_rate = RateLimiter(abuse.knocks_per_room_per_minute, 60.0)
        self.interval = RateLimiter(1 if abuse.min_knock_interval_seconds > 0 else 0, abuse.min_knock_interval_seconds)
        self.pending_per_address = abuse.pending_knocks_per_ip

    def check(self, keys: Iterable[Any], address: str, now: float, room_id: str = "",
              pending_from_address: int = 0) -> None:
        """Raise RejectedRecently while a key cools down, KnockPending when the address has its pending
        knocks in this room already, RateLimited past a rate (address, interval, room); else count
        this knock."""
        for key in keys:
            left = self.cooldowns.remaining(key, now)
            if left > 0:
                raise RejectedRecently(retryAfter=_retry(left))
        if self.pending_per_address > 0 and pending_from_address >= self.pending_per_address:
            raise KnockPending()
        wait = hit_all([(self.rate, address), (self.interval, address), (self.room_rate, room_id)], now)
        if wait > 0:
            raise RateLimited(retryAfter=_retry(wait))

    def turned_away(self, keys: Iterable[Any], now: float) -> None:
        """A knock was rejected: these keys may not knock for ``seconds``."""
        for key in keys:
            self.cooldowns.add(key, now, self.seconds)

    def retry_after(self, keys: Iterable[Any], now: float) -> int:
        """Whole seconds until none of these keys cools down any more (0: may knock now)."""
        left = max((self.cooldowns.remaining(key, now) for key in keys), default=0.0)
        return int(left) + 1 if left > 0 else 0


class JoinLimits:
    """Joins (and resumes) per address and per room per minute."""

    def __init__(self, abuse: AbuseLimits | None = None) -> None:
        abuse = abuse or AbuseLimits()
        self.per_address = RateLimiter(abuse.joins_per_ip_per_minute, 60.0)
        self.per_room = RateLimiter(abuse.joins_per_room_per_minute, 60.0)

    def check(self, address: str, room_id: str, now: float) -> None:
        wait = hit_all([(self.per_address, address), (self.per_room, room_id)], now)
        if wait > 0:
            raise RateLimited("too many joins; try again later", retryAfter=_retry(wait))


class ChatLimits:
    """Chat messages per participant, per second and per minute."""

    def __init__(self, abuse: AbuseLimits | None = None) -> None:
        abuse = abuse or AbuseLimits()
        self.per_second = RateLimiter(abuse.chat_per_second, 1.0)
        self.per_minute = RateLimiter(abuse.chat_per_minute, 60.0)

    def check(self, key: Any, now: float) -> None:
        wait = hit_all([(self.per_second, key), (self.per_minute, key)], now)
        if wait > 0:
            raise RateLimited("too many chat messages; slow down", retryAfter=_retry(wait))

    def forget(self, key: Any) -> None:
        self.per_second.forget(key)
        self.per_minute.forget(key)
