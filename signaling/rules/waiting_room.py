"""The knock state machine and the waiting queue of one room. Pure: no I/O, clock passed in.

docs/architecture.md "Life cycles" (the knock).

States move forward only: waiting -> held -> admitted/rejected/cancelled
(held may be re-held with a new message; a decided knock never changes again;
a new knock is a new object).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ..errors import KnockNotFound

WAITING, HELD, ADMITTED, REJECTED, CANCELLED = "waiting", "held", "admitted", "rejected", "cancelled"
PENDING = frozenset({WAITING, HELD})
_NEXT = {
    WAITING: frozenset({HELD, ADMITTED, REJECTED, CANCELLED}),
    HELD: frozenset({HELD, ADMITTED, REJECTED, CANCELLED}),
    ADMITTED: frozenset(), REJECTED: frozenset(), CANCELLED: frozenset(),
}


class InvalidTransition(Exception):
    pass


def new_knock_id() -> str:
    return "k_" + secrets.token_urlsafe(9)


@dataclass
class Knock:
    knock_id: str
    display_name: str
    knocked_at_ms: int
    owner: Any = None                # the participant that knocked (opaque here)
    ip: str = ""
    state: str = WAITING
    message: str | None = None       # hold message
    reason: str | None = None        # reject reason
    reconnecting: bool = False       # the knocker's connection is away; kept for the grace

    @property
    def pending(self) -> bool:
        return self.state in PENDING

    def move(self, new: str) -> str:
        """Move to ``new``; returns the old state. Raises InvalidTransition if not forward."""
        if new not in _NEXT[self.state]:
            raise InvalidTransition(f"{self.state} -> {new}")
        old, self.state = self.state, new
        return old

    def for_hosts(self, now_ms: int) -> dict[str, Any]:
        out: dict[str, Any] = {"knockId": self.knock_id, "displayName": self.display_name,
                               "state": self.state, "knockedAt": self.knocked_at_ms,
                               "waitedMs": max(0, now_ms - self.knocked_at_ms)}
        if self.message:
            out["message"] = self.message
        if self.reconnecting:
            out["connection"] = "reconnecting"
        return out


class WaitingRoom:
    """Pending knocks of one room, oldest first."""

    def __init__(self) -> None:
        self._pending: dict[str, Knock] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, knock: Knock) -> None:
        self._pending[knock.knock_id] = knock

    def get(self, knock_id: str) -> Knock:
        knock = self._pending.get(knock_id)
        if knock is None:
            raise KnockNotFound()
        return knock

    def pending(self) -> list[Knock]:
        return list(self._pending.values())

    def hold(self, knock_id: str, message: str) -> Knock:
        knock = self.get(knock_id)
        knock.move(HELD)
        knock.message = message
        return knock

    def decide(self, knock_id: str, state: str, reason: str | None = None) -> Knock:
        """Admit, reject or cancel a pending knock; it leaves the queue."""
        knock = self.get(knock_id)
        knock.move(state)
        knock.reason = reason
        del self._pending[knock_id]
        return knock

    def snapshot(self, now_ms: int) -> list[dict[str, Any]]:
        return [k.for_hosts(now_ms) for k in self._pending.values()]
