"""Room access keys derived from the server secret (docs/architecture.md, "Objects and ownership").

key = base64url(HMAC-SHA256(server_secret, room_id | role | key_version)).
Nothing is stored; keys are compared in constant time and never logged. Which key
makes its bearer what in a room is decided in one place: server/domain/access/identity.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def derive_key(server_secret: bytes, room_id: str, role: str, version: int = 0) -> str:
    msg = f"{room_id}|{role}|{version}".encode()
    digest = hmac.new(server_secret, msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def key_matches(server_secret: bytes, room_id: str, role: str, version: int, candidate: str) -> bool:
    expected = derive_key(server_secret, room_id, role, version)
    return hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))


def api_key_matches(configured: tuple[str, ...], candidate: str | None) -> bool:
    if not candidate:
        return False
    ok = False
    for key in configured:  # check every key: time does not reveal which one matched
        ok |= hmac.compare_digest(key.encode(), candidate.encode("utf-8", "replace"))
    return ok
