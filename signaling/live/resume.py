"""Resuming after a dropped connection: the tokens, the graces, and what a token takes back.

docs/architecture.md "Life cycles" (reconnecting); docs/protocol.md "Reconnecting".
Every participant gets a ``resumeToken`` in its own ``joined``, and a knocker in
its own pending ``knock_status`` (random, 192 bits; never logged, never sent to
anyone else; compared with ``hmac.compare_digest``). When a connection drops
without ``leave``, the room keeps the participant's place, or its knock at the
same place in the queue, for the grace period (``Graces.seconds``): the
participant is *away* (``live/participant.py``). A new connection sending
``join`` with the token within the grace is handed to that same participant
(``claim`` says which; the hub attaches the connection and the room resumes
it: ``LiveRoom.resume_place`` / ``resume_knock``): same participant id and role,
or the same knock (held message kept), or ``joined`` if it was admitted
meanwhile, or the decision if it was rejected. When the grace expires the
participant leaves (``disconnected``) or its knock is cancelled.

A participant removed while away (kicked, meeting ended, member deleted...)
leaves an ``Ended`` record for the grace, so a late resume is told why
(``ended``) instead of silently knocking again.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:
    from .participant import Participant

TOKEN_BYTES = 24                              # 192 bits
GRACE_REASONS = frozenset({"disconnected", "idle"})   # involuntary drops; not leave / too_slow


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def same_token(known: str | None, offered: str | None) -> bool:
    if not known or not offered:
        return False
    return hmac.compare_digest(known.encode(), offered.encode())


def find(participants: Iterable[Any], token: str) -> Any:
    """The participant holding this token, or None (every candidate is compared, match or not)."""
    found = None
    for p in participants:
        if same_token(p.resume_token, token) and found is None:
            found = p
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
        self._timers: dict[Any, asyncio.TimerHandle] = {}      # away participant -> expiry timer
        self._ended: dict[str, list[Ended]] = {}               # room_id -> recent removals

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def start(self, participant: Any, on_expiry: Callable[[], None]) -> None:
        self.cancel(participant)

        def fire() -> None:
            self._timers.pop(participant, None)
            on_expiry()

        self._timers[participant] = asyncio.get_running_loop().call_later(self.seconds, fire)

    def cancel(self, participant: Any) -> None:
        timer = self._timers.pop(participant, None)
        if timer is not None:
            timer.cancel()

    def pending(self) -> int:
        return len(self._timers)

    def knockers(self, room_id: str | None = None) -> list["Participant"]:
        """Away knockers (pending, or decided while away) of this room, or of every room."""
        return [p for p in self._timers
                if getattr(p, "knock", None) is not None and room_id in (None, p.room_id)]

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


@dataclass(frozen=True)
class Claim:
    """What a ``join`` with a resume token takes back: an ``ended`` reason, or the ``holder``
    (a participant in the meeting when ``place``, else a knocker)."""

    ended: str | None = None
    holder: "Participant | None" = None
    place: bool = False


def claim(graces: Graces, room_id: str, token: str, participants: Mapping[str, "Participant"],
          knockers: Iterable["Participant"]) -> Claim | None:
    """Whom ``token`` resumes in this room: ``participants`` is the meeting (the live room's), ``knockers``
    the owners of its pending knocks; away knockers come from the graces. None: a normal join."""
    if not graces.enabled:
        return None
    reason = graces.ended_reason(room_id, token)
    if reason is not None:
        return Claim(ended=reason)
    holder = find(participants.values(), token)
    if holder is not None:
        return Claim(holder=holder, place=True)
    away = graces.knockers(room_id)
    holder = find(away + [k for k in knockers if k not in away], token)
    return Claim(holder=holder) if holder is not None and holder.knock is not None else None
