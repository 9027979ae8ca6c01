"""The webhook outbox in the Redis store (docs/architecture.md "Stores and writes", docs/webhooks.md).

Keys under the store's prefix: ``webhooks:config`` (the endpoints, JSON); ``webhooks:delivery:<id>``
(a hash: ``doc`` JSON and ``seq``); ``webhooks:seq`` (hash ``<endpoint>\\0<room>`` -> last number);
``webhooks:due`` (pending deliveries by next try, ms); ``webhooks:queue:<endpoint>:<room>`` (pending
deliveries by seq: the first is the one to send); ``webhooks:log`` (every delivery by creation, ms).
Appending numbers a delivery and writes it and its indexes in one Lua script (atomic).
"""

from __future__ import annotations

import json
from typing import Any

from .base import Page
from .outbox_paging import after, decode_token, encode_token, page_size
from .outbox_records import Delivery, DeliveryQuery

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# KEYS: seq hash, delivery hash, due, queue, log; ARGV: seq field, doc, next_at, created_at, id, seq (or '')
_APPEND = """
local seq = tonumber(ARGV[6])
if not seq then seq = redis.call('HINCRBY', KEYS[1], ARGV[1], 1) end
redis.call('HSET', KEYS[2], 'doc', ARGV[2], 'seq', seq)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[4], seq, ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[5])
return seq
"""


class RedisOutbox:
    """Mixed into RedisStore, which provides ``_r`` (the client) and ``_k`` (prefixed keys)."""

    _r: Any

    def _k(self, *parts: str) -> str: ...   # provided by RedisStore

    def _queue_key(self, d: Delivery) -> str:
        return self._k("webhooks", "queue", d.endpoint_id, d.room_id)

    async def get_webhook_config(self) -> dict[str, Any] | None:
        raw = await self._r.get(self._k("webhooks", "config"))
        return json.loads(raw) if raw is not None else None

    async def put_webhook_config(self, doc: dict[str, Any]) -> None:
        await self._r.set(self._k("webhooks", "config"), _dumps(doc))

    async def _append(self, d: Delivery, keep_seq: bool) -> None:
        script = getattr(self, "_outbox_append", None)
        if script is None:
            script = self._outbox_append = self._r.register_script(_APPEND)
        seq = await script(
            keys=[self._k("webhooks", "seq"), self._k("webhooks", "delivery", d.delivery_id),
                  self._k("webhooks", "due"), self._queue_key(d), self._k("webhooks", "log")],
            args=[f"{d.endpoint_id}\x00{d.room_id}", _dumps(d.to_doc()), int(d.next_at), int(d.created_at),
                  d.delivery_id, str(d.seq) if keep_seq else ""])
        d.seq = int(seq)

    async def append_webhook_deliveries(self, deliveries: list[Delivery]) -> None:
        """Store new deliveries, each numbered next in its (endpoint, room) sequence (sets ``seq``)."""
        for d in deliveries:
            await self._append(d, keep_seq=False)

    async def add_webhook_delivery(self, d: Delivery) -> None:
        """Store a delivery that keeps the ``seq`` it has (a replay)."""
        await self._append(d, keep_seq=True)

    async def _load(self, ids: list[Any]) -> list[Delivery | None]:
        if not ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(self._k("webhooks", "delivery", i.decode() if isinstance(i, bytes) else i), "doc", "seq")
        out: list[Delivery | None] = []
        for doc, seq in await pipe.execute():
            if doc is None:
                out.append(None)
                continue
            d = Delivery.from_doc(json.loads(doc))
            d.seq = int(seq)
            out.append(d)
        return out

    async def due_webhook_deliveries(self, now_ms: int, limit: int = 100) -> list[Delivery]:
        """Pending deliveries due by ``now_ms`` that are first in their (endpoint, room) queue (the due
        set also holds the ones queued behind a head: it is read a window at a time, at most 10)."""
        heads: list[Delivery] = []
        window = max(limit * 4, 100)
        for offset in range(0, window * 10, window):
            ids = await self._r.zrangebyscore(self._k("webhooks", "due"), "-inf", int(now_ms), start=offset, num=window)
            found = [d for d in await self._load(ids) if d is not None and d.status == "pending"]
            if found:
                pipe = self._r.pipeline(transaction=False)
                for d in found:
                    pipe.zrange(self._queue_key(d), 0, 0)
                answers = await pipe.execute()
                heads += [d for d, head in zip(found, answers) if head and head[0].decode() == d.delivery_id]
            if len(heads) >= limit or len(ids) < window:
                break
        return heads[:limit]

    async def update_webhook_delivery(self, d: Delivery) -> None:
        key = self._k("webhooks", "delivery", d.delivery_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={"doc": _dumps(d.to_doc()), "seq": int(d.seq)})
        if d.status == "pending":
            pipe.zadd(self._k("webhooks", "due"), {d.delivery_id: int(d.next_at)})
            pipe.zadd(self._queue_key(d), {d.delivery_id: int(d.seq)})
        else:
            pipe.zrem(self._k("webhooks", "due"), d.delivery_id)
            pipe.zrem(self._queue_key(d), d.delivery_id)
        await pipe.execute()

    async def get_webhook_delivery(self, delivery_id: str) -> Delivery | None:
        return (await self._load([delivery_id]))[0]

    async def list_webhook_deliveries(self, q: DeliveryQuery) -> Page[Delivery]:
        """The delivery log, newest first, filtered by room, type and status (filters in Python)."""
        cursor = decode_token(q)
        limit = page_size(q.limit)
        top = cursor[0] if cursor is not None else "+inf"
        items: list[Delivery] = []
        offset, batch = 0, 200
        while len(items) <= limit:
            ids = await self._r.zrevrangebyscore(self._k("webhooks", "log"), top, "-inf", start=offset, num=batch)
            if not ids:
                break
            offset += len(ids)
            for d in await self._load(ids):
                if d is None or not after(d, cursor):
                    continue
                if any(want is not None and want != have for want, have in
                       ((q.room_id, d.room_id), (q.type, d.type), (q.status, d.status))):
                    continue
                items.append(d)
        more = len(items) > limit
        items = items[:limit]
        return Page(items, encode_token(q, items[-1]) if more else None)
