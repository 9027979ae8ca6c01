"""What the REST API asks of webhooks (server/http/api/webhooks.py): the endpoints, a test event,
the delivery log and replays (docs/webhooks.md). Built by the composition root (server/app.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

from ...store.base import Page
from ...store.outbox_records import Delivery, DeliveryQuery
from ..errors import NotFound
from .dispatch import Dispatcher, Post
from .endpoints import Endpoint, EndpointBook
from .formats import probe_body
from .source import WebhookSource
from .wire import encode, signature_headers


class Webhooks:
    def __init__(self, store: Any, book: EndpointBook, source: WebhookSource, dispatcher: Dispatcher,
                 post: Post) -> None:
        self.store, self.book, self.source, self.dispatcher, self.post = store, book, source, dispatcher, post

    async def endpoints(self) -> list[Endpoint]:
        return await self.book.all()

    async def replace(self, endpoints: list[Endpoint]) -> list[Endpoint]:
        """Set the API's endpoints (the settings' ones stay)."""
        await self.book.replace(endpoints)
        return await self.book.all()

    async def test(self) -> list[dict[str, Any]]:
        """Send a test event to every endpoint now (outside the outbox); what each answered."""
        return list(await asyncio.gather(*(self._probe(e) for e in await self.book.all())))

    async def _probe(self, e: Endpoint) -> dict[str, Any]:
        now = int(time.time() * 1000)
        raw = encode(probe_body(e.format, uuid.uuid4().hex, now))
        headers = {"Content-Type": "application/json", **signature_headers(e.format, e.secret, raw, now)}
        started = time.monotonic()
        answer = await self.post(e.url, raw, headers, self.dispatcher.policy.timeout)
        ok = answer.status is not None and 200 <= answer.status < 300
        return {"id": e.endpoint_id, "url": e.url, "ok": ok, "responseCode": answer.status,
                "latencyMs": int((time.monotonic() - started) * 1000),
                "error": None if ok else (answer.error or f"HTTP {answer.status}")}

    async def deliveries(self, q: DeliveryQuery) -> Page[Delivery]:
        return await self.store.list_webhook_deliveries(q)

    async def replay(self, delivery_id: str) -> Delivery:
        """Send a delivery again: a new delivery of the same body, sequence number and endpoint."""
        old = await self.store.get_webhook_delivery(delivery_id)
        if old is None:
            raise NotFound("no such delivery", code="delivery_not_found")
        now = int(time.time() * 1000)
        new = dataclasses.replace(old, delivery_id="whd_" + uuid.uuid4().hex, status="pending", next_at=now,
                                  created_at=now, attempts=[], replay_of=old.delivery_id)
        await self.store.add_webhook_delivery(new)
        self.dispatcher.wake()
        return new
