"""Expiring, revocable download links for recordings. Pure (no I/O).

A link carries ``expires`` (epoch seconds) and ``signature`` =
base64url(HMAC-SHA256(server_secret, "recording-link|<id>|<link_secret_version>|<expires>")).
Bumping a recording's ``link_secret_version`` revokes every link handed out
before. Signatures are compared in constant time and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

DEFAULT_VALID_SECONDS = 3600
MAX_VALID_SECONDS = 43200


class LinkError(Exception):
    code = "invalid_link"


class LinkExpired(LinkError):
    code = "link_expired"


class LinkInvalid(LinkError):
    code = "invalid_link"


def signature(secret: bytes, recording_id: str, version: int, expires: int) -> str:
    msg = f"recording-link|{recording_id}|{version}|{expires}".encode()
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_query(secret: bytes, recording_id: str, version: int, now: float, valid_for: int) -> tuple[str, int]:
    """(query string, expiry in epoch seconds) of a link valid for ``valid_for`` seconds."""
    expires = int(now) + int(valid_for)
    query = urlencode({"expires": expires, "signature": signature(secret, recording_id, version, expires)})
    return query, expires


def verify(secret: bytes, recording_id: str, version: int, expires: str | None, sig: str | None,
           now: float) -> None:
    """Raise LinkInvalid for a forged / revoked / malformed link, LinkExpired for an old one."""
    if not expires or not sig or not (expires.isascii() and expires.isdigit()) or len(expires) > 12 or len(sig) > 100:
        raise LinkInvalid("the link is not valid")
    expected = signature(secret, recording_id, version, int(expires))
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        raise LinkInvalid("the link is not valid")
    if int(expires) <= now:
        raise LinkExpired("the link has expired")
