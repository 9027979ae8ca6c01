"""Short-lived TURN credentials: coturn's ``use-auth-secret`` scheme (the "TURN REST API").

docs/architecture.md "Objects and ownership" (the hub's media hooks hand these to each
participant in ``joined``); docs/deploy.md "TURN". Pure: no I/O, the clock is passed in.

The TURN server and Antechamber share one secret. For each participant the server mints
``username = "<unix expiry>:<participantId>"`` and ``credential =
base64(HMAC-SHA1(secret, username))``; coturn recomputes the HMAC from the username it is
given and refuses the allocation once the expiry has passed. No long-lived TURN password
reaches a browser, and the secret itself never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any, Callable

DEFAULT_TTL_SECONDS = 6 * 3600


def turn_password(secret: str, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)), exactly as coturn computes it."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_username(participant_id: str, now: float, ttl_seconds: int) -> str:
    """``"<unix expiry>:<participantId>"``: coturn reads the timestamp before the first colon."""
    return f"{int(now) + int(ttl_seconds)}:{participant_id}"


def verify(secret: str, username: str, credential: str, now: float) -> bool:
    """What the TURN server checks: the expiry has not passed and the HMAC matches."""
    stamp, sep, _ = username.partition(":")
    if not sep or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12 or int(stamp) < now:
        return False
    return hmac.compare_digest(turn_password(secret, username), credential)


@dataclass(frozen=True)
class TurnCredentials:
    """Mints one RTCIceServer entry per participant for the configured TURN URLs."""

    secret: str = field(repr=False)
    urls: tuple[str, ...]
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __call__(self, participant_id: str) -> list[dict[str, Any]]:
        if not self.secret or not self.urls:
            return []
        username = turn_username(participant_id, self.clock(), self.ttl_seconds)
        return [{"urls": list(self.urls), "username": username,
                 "credential": turn_password(self.secret, username)}]

