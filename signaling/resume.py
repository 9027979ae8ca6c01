"""Keeping a participant's place while its websocket is down, and resuming it.

Every participant gets a ``resumeToken`` in its own ``joined`` (random, 192
bits; never logged, never sent to anyone else). When the websocket drops
without ``leave``, the hub keeps the participant in the roster for the grace
period (``Graces.seconds``); a new connection sending ``join`` with that token
within the grace takes the place back (same participant id and role, no knock).
When the grace expires the participant leaves (``disconnected``).

A participant removed while its connection was down (kicked, meeting ended,
member deleted...) leaves an ``Ended`` record for the grace period, so a late
resume is told why (``ended``) instead of silently knocking again.
Tokens are always compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from .session import Session

TOKEN_BYTES = 24                              # 192 bits
GRACE_REASONS = frozenset({"disconnected", "idle"})   # involuntary drops; not leave / too_slow


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def same_token(known: str | None, offered: str | None) -> bool:
    if not known or not offered:
        return False
    return hmac.compare_digest(known.encode(), offered.encode())


def find(sessions: Iterable["Session"], token: str) -> "Session | None":
    """The session holding this token (every candidate is compared, match or not)."""
    found = None
    for s in sessions:
        if same_token(s.resume_token, token) and found is None:
            found = s
    return found


@dataclass
class Ended:
    token: str
    reason: str
    expires: float


class Graces:
    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = max(0.0, float(seconds))
        self.clock = clock
        self._timers: dict["Session", asyncio.TimerHandle] = {}   # session -> expiry timer
        self._ended: dict[str, list[Ended]] = {}               # room_id -> recent removals

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def start(self, session: "Session", on_expiry: Callable[[], None]) -> None:
        self.cancel(session)

        def fire() -> None:
            self._timers.pop(session, None)
            on_expiry()

        self._timers[session] = asyncio.get_running_loop().call_later(self.seconds, fire)

    def cancel(self, session: "Session") -> None:
        timer = self._timers.pop(session, None)
        if timer is not None:
            timer.cancel()

    def pending(self) -> int:
        return len(self._timers)

    # --- removals while away ---------------------------------------------------------------

    def remember_end(self, room_id: str, token: str, reason: str) -> None:
        now = self.clock()
        kept = [e for e in self._ended.get(room_id, ()) if e.expires > now]
        kept.append(Ended(token, reason, now + max(self.seconds, 1.0)))
        self._ended[room_id] = kept

    def ended_reason(self, room_id: str, token: str) -> str | None:
        now = self.clock()
        entries = [e for e in self._ended.get(room_id, ()) if e.expires > now]
        if entries:
            self._ended[room_id] = entries
        else:
            self._ended.pop(room_id, None)
        reason = None
        for e in entries:
            if same_token(e.token, token) and reason is None:
                reason = e.reason
        return reason

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._ended.clear()
