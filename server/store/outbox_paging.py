"""Page tokens of the webhook delivery log (newest first, keyset on (created_at, delivery_id)).

A token names the last item of a page and the filters it continues; it is checked strictly (a token
of another query or a malformed one raises InvalidToken). The log is behind the API key and holds no
secret, so the token is not signed.
"""

from __future__ import annotations

import base64
import json

from .base import InvalidToken
from .outbox_records import Delivery, DeliveryQuery


def _filters(q: DeliveryQuery) -> list:
    return [q.room_id, q.type, q.status]


def encode_token(q: DeliveryQuery, last: Delivery) -> str:
    raw = json.dumps([_filters(q), int(last.created_at), last.delivery_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(q: DeliveryQuery) -> tuple[int, str] | None:
    """(created_at, delivery_id) of the last item seen, or None for the first page."""
    if not q.token:
        return None
    try:
        raw = base64.urlsafe_b64decode(q.token + "=" * (-len(q.token) % 4))
        filters, created, last_id = json.loads(raw)
    except (ValueError, TypeError):
        raise InvalidToken("page token is not valid") from None
    if filters != _filters(q):
        raise InvalidToken("page token belongs to another query")
    if isinstance(created, bool) or not isinstance(created, int) or not isinstance(last_id, str):
        raise InvalidToken("page token is not valid")
    return created, last_id


def page_size(limit: int) -> int:
    return max(1, min(int(limit), 100))


def after(d: Delivery, cursor: tuple[int, str] | None) -> bool:
    """True if ``d`` comes after the cursor in newest-first order."""
    return cursor is None or (d.created_at, d.delivery_id) < cursor
