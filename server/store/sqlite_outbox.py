"""The webhook outbox in the SQLite store (docs/architecture.md "Stores and writes", docs/webhooks.md).

``webhook_deliveries`` holds one row per event and endpoint; ``webhook_seq`` the last sequence number
given per (endpoint, room): appending deliveries takes the next numbers and inserts the rows in one
worker call, so in one transaction. The endpoints' configuration is a JSON document in ``meta``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Callable

from .base import Page
from .outbox_paging import decode_token, encode_token, page_size
from .outbox_records import Delivery, DeliveryQuery

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

_DUE = """SELECT d.doc FROM webhook_deliveries d
    WHERE d.status = 'pending' AND d.next_at <= ?
      AND d.seq = (SELECT MIN(q.seq) FROM webhook_deliveries q
                   WHERE q.endpoint_id = d.endpoint_id AND q.room_id = d.room_id AND q.status = 'pending')
    ORDER BY d.next_at LIMIT ?"""


def _row(d: Delivery) -> tuple:
    return (d.endpoint_id, d.room_id, d.type, d.status, int(d.seq), int(d.next_at), int(d.created_at),
            _dumps(d.to_doc()), d.delivery_id)


class SqliteOutbox:
    """Mixed into SqliteStore, which provides ``_call`` (runs a function on the store's connection)."""

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any: ...   # provided by SqliteStore

    async def get_webhook_config(self) -> dict[str, Any] | None:
        row = await self._call(lambda c: c.execute(
            "SELECT value FROM meta WHERE key = 'webhook_config'").fetchone())
        return json.loads(row[0]) if row else None

    async def put_webhook_config(self, doc: dict[str, Any]) -> None:
        raw = _dumps(doc)
        await self._call(lambda c: c.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('webhook_config', ?)", (raw,)))

    async def append_webhook_deliveries(self, deliveries: list[Delivery]) -> None:
        """Store new deliveries, each numbered next in its (endpoint, room) sequence (sets ``seq``),
        all in one transaction."""
        def run(c: sqlite3.Connection) -> list[int]:
            numbers = []
            for d in deliveries:
                c.execute("INSERT INTO webhook_seq (endpoint_id, room_id, last) VALUES (?, ?, 1)"
                          " ON CONFLICT (endpoint_id, room_id) DO UPDATE SET last = last + 1",
                          (d.endpoint_id, d.room_id))
                seq = c.execute("SELECT last FROM webhook_seq WHERE endpoint_id = ? AND room_id = ?",
                                (d.endpoint_id, d.room_id)).fetchone()[0]
                d.seq = int(seq)
                c.execute(_INSERT, _row(d))
                numbers.append(d.seq)
            return numbers
        await self._call(run)

    async def add_webhook_delivery(self, d: Delivery) -> None:
        """Store a delivery that keeps the ``seq`` it has (a replay)."""
        row = _row(d)
        await self._call(lambda c: c.execute(_INSERT, row))

    async def due_webhook_deliveries(self, now_ms: int, limit: int = 100) -> list[Delivery]:
        """Pending deliveries due by ``now_ms`` that are first in their (endpoint, room) queue."""
        rows = await self._call(lambda c: c.execute(_DUE, (int(now_ms), int(limit))).fetchall())
        return [Delivery.from_doc(json.loads(r[0])) for r in rows]

    async def update_webhook_delivery(self, d: Delivery) -> None:
        row = _row(d)
        await self._call(lambda c: c.execute(
            "UPDATE webhook_deliveries SET endpoint_id = ?, room_id = ?, type = ?, status = ?, seq = ?,"
            " next_at = ?, created_at = ?, doc = ? WHERE delivery_id = ?", row))

    async def get_webhook_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self._call(lambda c: c.execute(
            "SELECT doc FROM webhook_deliveries WHERE delivery_id = ?", (delivery_id,)).fetchone())
        return Delivery.from_doc(json.loads(row[0])) if row else None

    async def list_webhook_deliveries(self, q: DeliveryQuery) -> Page[Delivery]:
        """The delivery log, newest first, filtered by room, type and status."""
        cursor = decode_token(q)
        limit = page_size(q.limit)
        where, params = [], []
        for column, value in (("room_id", q.room_id), ("type", q.type), ("status", q.status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if cursor is not None:
            where.append("(created_at < ? OR (created_at = ? AND delivery_id < ?))")
            params += [cursor[0], cursor[0], cursor[1]]
        sql = ("SELECT doc FROM webhook_deliveries" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created_at DESC, delivery_id DESC LIMIT ?")
        rows = await self._call(lambda c: c.execute(sql, (*params, limit + 1)).fetchall())
        items = [Delivery.from_doc(json.loads(r[0])) for r in rows]
        more = len(items) > limit
        items = items[:limit]
        return Page(items, encode_token(q, items[-1]) if more else None)


_INSERT = ("INSERT INTO webhook_deliveries (endpoint_id, room_id, type, status, seq, next_at, created_at, doc,"
           " delivery_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
