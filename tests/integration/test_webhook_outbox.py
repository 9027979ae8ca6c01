"""The webhook outbox's store contract, on both stores (server/store/sqlite_outbox.py, redis_outbox.py):
numbering per (endpoint, room), only queue heads are due, settled deliveries leave the queue, the log
is filtered and paged newest first, and a replay keeps its number."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import pytest_asyncio

from server.store.base import InvalidToken
from server.store.outbox_records import Delivery, DeliveryQuery
from server.store.redis_store import RedisStore
from server.store.sqlite_store import SqliteStore


@pytest_asyncio.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "store.sqlite3")
    else:
        url = request.getfixturevalue("redis_url")
        s = RedisStore(f"{url}{'&' if '?' in url else '?'}prefix=ob{uuid.uuid4().hex[:12]}:")
    await s.open()
    yield s
    await s.close()


def delivery(endpoint: str, room: str, at: int, type_name: str = "room.client.joined") -> Delivery:
    return Delivery(delivery_id=f"whd_{uuid.uuid4().hex}", event_id=uuid.uuid4().hex, endpoint_id=endpoint,
                    room_id=room, type=type_name, format="whereby", body={"n": at, "text": "héllo"},
                    next_at=at, created_at=at)


async def test_numbering_queue_heads_and_settling(store):
    batch = [delivery("e1", "r1", 10), delivery("e2", "r1", 10), delivery("e1", "r2", 11), delivery("e1", "r1", 12)]
    await store.append_webhook_deliveries(batch)
    assert [d.seq for d in batch] == [1, 1, 1, 2]
    due = await store.due_webhook_deliveries(now_ms=100)
    assert sorted(d.delivery_id for d in due) == sorted(d.delivery_id for d in batch[:3])   # not e1/r1's second
    assert await store.due_webhook_deliveries(now_ms=9) == []
    first = due[[d.delivery_id for d in due].index(batch[0].delivery_id)]
    assert first.body == {"n": 10, "text": "héllo"} and first.seq == 1
    first.attempts.append({"at": 20, "responseCode": 500, "latencyMs": 3, "error": "HTTP 500"})
    first.next_at = 50
    await store.update_webhook_delivery(first)
    assert batch[0].delivery_id not in [d.delivery_id for d in await store.due_webhook_deliveries(now_ms=49)]
    assert batch[3].delivery_id not in [d.delivery_id for d in await store.due_webhook_deliveries(now_ms=49)]
    first.status = "delivered"
    await store.update_webhook_delivery(first)
    heads = [d.delivery_id for d in await store.due_webhook_deliveries(now_ms=100)]
    assert batch[3].delivery_id in heads and batch[0].delivery_id not in heads
    again = await store.get_webhook_delivery(batch[0].delivery_id)
    assert again.status == "delivered" and again.attempts[0]["responseCode"] == 500
    replay = dataclasses.replace(again, delivery_id="whd_replay", status="pending", attempts=[], next_at=0,
                                 created_at=200, replay_of=again.delivery_id)
    await store.add_webhook_delivery(replay)
    heads = [d.delivery_id for d in await store.due_webhook_deliveries(now_ms=300)]
    assert "whd_replay" in heads and batch[3].delivery_id not in heads        # seq 1 goes before seq 2
    assert (await store.get_webhook_delivery("whd_replay")).seq == 1
    await store.append_webhook_deliveries(more := [delivery("e1", "r1", 300)])
    assert more[0].seq == 3


async def test_log_filters_and_pages_newest_first(store):
    made = [delivery("e1", f"r{i % 2}", 1000 + i, "room.client.left" if i % 3 == 0 else "room.client.joined")
            for i in range(25)]
    await store.append_webhook_deliveries(made)
    made[4].status = "failed"
    await store.update_webhook_delivery(made[4])
    seen, token = [], None
    while True:
        page = await store.list_webhook_deliveries(DeliveryQuery(limit=10, token=token))
        seen += [d.delivery_id for d in page.items]
        token = page.next_token
        if token is None:
            break
    assert seen == [d.delivery_id for d in reversed(made)]
    r0 = await store.list_webhook_deliveries(DeliveryQuery(room_id="r0", type="room.client.left", limit=100))
    assert [d.delivery_id for d in r0.items] == [d.delivery_id for d in reversed(made)
                                                 if d.room_id == "r0" and d.type == "room.client.left"]
    failed = await store.list_webhook_deliveries(DeliveryQuery(status="failed"))
    assert [d.delivery_id for d in failed.items] == [made[4].delivery_id]
    first = await store.list_webhook_deliveries(DeliveryQuery(limit=5))
    with pytest.raises(InvalidToken):
        await store.list_webhook_deliveries(DeliveryQuery(limit=5, room_id="r1", token=first.next_token))
    with pytest.raises(InvalidToken):
        await store.list_webhook_deliveries(DeliveryQuery(token="not-a-token"))


async def test_config_document_round_trips(store):
    assert await store.get_webhook_config() is None
    doc = {"endpoints": [{"url": "https://h.example/x", "secret": "s", "format": "whereby", "events": []}]}
    await store.put_webhook_config(doc)
    assert await store.get_webhook_config() == doc
