"""Keyset pagination shared by the stores: sort keys, filters and signed opaque tokens.

A token carries the sort value and id of the last item of a page plus a
fingerprint of the query it continues (filters, sort field and order; not the
page size). It is signed with a per-store secret, so a token that was tampered
with, or that belongs to another query, raises :class:`InvalidToken`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any, Callable, Optional

import regex

from .base import InvalidToken, PatternTooSlow, RecordingQuery, RoomQuery
from .records import Recording, Room

# rooms with no autoDeletionDate sort after every real date (asc) and before them (desc);
# 2**62 is exact both as a SQLite integer and as a Redis (double) score.
NO_DATE = 2**62

ROOM_SORTS = ("creationDate", "roomName", "autoDeletionDate")
RECORDING_SORTS = ("startDate", "duration", "size")
ORDERS = ("asc", "desc")
NAME_MODES = ("exact", "prefix", "partial", "regex")
REGEX_BUDGET_S = 0.25   # all the names of one listing together


def name_key(name: str) -> str:
    """Case-insensitive sort and search key of a display name."""
    return name.casefold().replace("\x00", "")


def deletion_key(room: Room) -> int:
    return NO_DATE if room.auto_deletion_date is None else int(room.auto_deletion_date)


def room_sort_value(room: Room, sort_field: str) -> Any:
    if sort_field == "creationDate":
        return int(room.creation_date)
    if sort_field == "roomName":
        return name_key(room.room_name)
    return deletion_key(room)


def recording_sort_value(rec: Recording, sort_field: str) -> Any:
    if sort_field == "startDate":
        return int(rec.start_date)
    if sort_field == "duration":
        return float(rec.duration)
    return int(rec.size)


def name_matcher(value: Optional[str], mode: str, case_insensitive: bool) -> Optional[Callable[[str], bool]]:
    """A predicate on display names as OpenVidu Meet's roomNameMatchMode / roomNameCaseInsensitive have
    it (exact | prefix | partial | regex), or None for no filter. A ``regex`` runs on the ``regex``
    engine with one time budget for the whole listing: past it, :class:`PatternTooSlow`. A pattern that
    does not compile raises ``regex.error`` (callers check it first and answer 422)."""
    if not value:
        return None
    if mode not in NAME_MODES:
        raise ValueError(f"unknown name match mode {mode!r}")
    if mode == "regex":
        pattern = regex.compile(value, regex.IGNORECASE if case_insensitive else 0)
        deadline = time.monotonic() + REGEX_BUDGET_S

        def matches(name: str) -> bool:
            try:
                return pattern.search(name, timeout=max(deadline - time.monotonic(), 0.001)) is not None
            except TimeoutError:
                raise PatternTooSlow("the regular expression takes too long to match") from None
        return matches
    literal = re.escape(value)
    compiled = re.compile({"exact": f"^{literal}$", "prefix": f"^{literal}", "partial": literal}[mode],
                          re.IGNORECASE if case_insensitive else 0)
    if mode == "exact":
        return lambda name: compiled.fullmatch(name) is not None
    return lambda name: compiled.search(name) is not None


def room_name_matcher(q: RoomQuery) -> Optional[Callable[[str], bool]]:
    return name_matcher(q.room_name, q.room_name_mode, q.room_name_case_insensitive)


def room_matches(room: Room, q: RoomQuery, name_ok: Optional[Callable[[str], bool]] = None) -> bool:
    if q.status is not None and room.status != q.status:
        return False
    if q.api is not None and room.api != q.api:
        return False
    if name_ok is not None and not name_ok(room.room_name):
        return False
    return True


def recording_matches(rec: Recording, q: RecordingQuery) -> bool:
    if q.room_id is not None and rec.room_id != q.room_id:
        return False
    if q.status is not None and rec.status != q.status:
        return False
    return True


def check_room_query(q: RoomQuery) -> None:
    if q.sort_field not in ROOM_SORTS:
        raise ValueError(f"unknown room sort field {q.sort_field!r}")
    if q.sort_order not in ORDERS:
        raise ValueError(f"unknown sort order {q.sort_order!r}")
    if q.room_name_mode not in NAME_MODES:
        raise ValueError(f"unknown name match mode {q.room_name_mode!r}")


def check_recording_query(q: RecordingQuery) -> None:
    if q.sort_field not in RECORDING_SORTS:
        raise ValueError(f"unknown recording sort field {q.sort_field!r}")
    if q.sort_order not in ORDERS:
        raise ValueError(f"unknown sort order {q.sort_order!r}")


def page_limit(limit: int) -> int:
    return max(1, int(limit))


def _fingerprint(kind: str, q: RoomQuery | RecordingQuery) -> str:
    if isinstance(q, RoomQuery):
        parts = [kind, q.room_name, q.status, q.api, q.sort_field, q.sort_order]
        if q.room_name:
            parts += [q.room_name_mode, bool(q.room_name_case_insensitive)]
    else:
        parts = [kind, q.room_id, q.status, q.sort_field, q.sort_order]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenCodec:
    """Signs and checks page tokens with a secret that the store keeps."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sig(self, body: bytes) -> str:
        return _b64(hmac.new(self._secret, body, hashlib.sha256).digest()[:16])

    def encode(self, kind: str, q: RoomQuery | RecordingQuery, value: Any, item_id: str) -> str:
        body = json.dumps([_fingerprint(kind, q), value, item_id], separators=(",", ":")).encode()
        return f"{_b64(body)}.{self._sig(body)}"

    def decode(self, kind: str, q: RoomQuery | RecordingQuery, token: str) -> tuple[Any, str]:
        """Return (last sort value, last id) or raise InvalidToken."""
        try:
            body_text, sig = token.split(".")
            body = _unb64(body_text)
            if not hmac.compare_digest(sig, self._sig(body)):
                raise InvalidToken("page token is not valid")
            fp, value, item_id = json.loads(body)
        except InvalidToken:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidToken("page token is not valid") from exc
        if fp != _fingerprint(kind, q):
            raise InvalidToken("page token belongs to another query")
        textual = q.sort_field == "roomName"
        if not isinstance(item_id, str) or (
            not isinstance(value, str) if textual
            else (isinstance(value, bool) or not isinstance(value, (int, float)))
        ):
            raise InvalidToken("page token is not valid")
        return value, item_id
