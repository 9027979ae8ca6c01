"""The webhook delivery loop (docs/webhooks.md "Delivery"; docs/architecture.md "Seams for the cluster").

One task, separate from the meetings: it takes the deliveries that are due and first in their
(endpoint, room) queue from the store (``due_webhook_deliveries``), and sends each with at most one in
flight per (endpoint, room), so a receiver sees a room's events in order. A 2xx answer marks it
delivered; anything else (another status, a timeout, a refused connection) is logged as an attempt and
tried again after ``backoff * 2**(n-1)`` seconds, times a jitter between 0.5 and 1.5, at most
``backoff_max``, until ``max_attempts`` ran out (then ``failed``, and the room's next event goes).

It acts only while ``may_act()`` (on a cluster: this node holds ``leader:webhooks``), so the loop runs
once per cluster. State lives in the store: after a restart, pending deliveries go out again.
The HTTP client is a port (``post``, server/http/webhook_client.py): the domain knows no aiohttp.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import structlog

from ...observability.metrics import count_webhook_delivery
from ...store.outbox_records import MAX_LOGGED_ATTEMPTS, Delivery
from ..tasks import stop_task
from .endpoints import EndpointBook
from .wire import encode, signature_headers

log = structlog.get_logger("antechamber.webhooks")


@dataclass(frozen=True)
class Answer:
    status: int | None                # HTTP status, None when there was no answer
    error: str | None = None          # why there was none (timeout, connection refused...)


Post = Callable[[str, bytes, dict[str, str], float], Awaitable[Answer]]


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 5
    timeout: float = 10.0
    backoff: float = 1.0
    backoff_max: float = 300.0
    poll: float = 1.0
    concurrency: int = 16


def wire_body(d: Delivery) -> bytes:
    return encode({**d.body, "sequence": d.seq})


def request_headers(d: Delivery, secret: str, now_ms: int) -> dict[str, str]:
    raw = wire_body(d)
    return {"Content-Type": "application/json", "User-Agent": "Antechamber-Webhooks/1",
            "Antechamber-Delivery-Id": d.delivery_id, "Antechamber-Event-Id": d.event_id,
            "Antechamber-Sequence": str(d.seq), **signature_headers(d.format, secret, raw, now_ms)}


class Dispatcher:
    def __init__(self, store: Any, book: EndpointBook, post: Post, policy: Policy = Policy(), *,
                 may_act: Callable[[], bool] = lambda: True, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = random.random) -> None:
        self.store, self.book, self.post, self.policy = store, book, post, policy
        self.may_act, self.clock, self.jitter = may_act, clock, jitter
        self._wake = asyncio.Event()
        self._inflight: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(policy.concurrency)
        self._task: asyncio.Task[None] | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def wake(self) -> None:
        """Something new may be due (an event written, a delivery settled)."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="webhooks:dispatch")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)       # a Redis command can absorb one cancellation
        sending = list(self._inflight.values())
        for t in sending:
            t.cancel()
        await asyncio.gather(*sending, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.policy.poll)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if not self.may_act():
                continue
            try:
                await self.pump()
            except Exception:  # noqa: BLE001 - the store away: tried again at the next poll
                log.warning("webhook deliveries not read", exc_info=True)

    async def pump(self) -> int:
        """Start sending what is due now; returns how many sends started."""
        started = 0
        for d in await self.store.due_webhook_deliveries(self.now_ms(), limit=100):
            key = (d.endpoint_id, d.room_id)
            if key in self._inflight:
                continue
            self._inflight[key] = asyncio.get_running_loop().create_task(self._deliver(key, d))
            started += 1
        return started

    async def _deliver(self, key: tuple[str, str], d: Delivery) -> None:
        try:
            async with self._slots:
                # read again under this key's flight: the list that named ``d`` may predate the
                # settling of ``d`` by the send that flew just before (a 2xx receiver gets it once)
                fresh = await self.store.get_webhook_delivery(d.delivery_id)
                if fresh is not None and fresh.status == "pending" and fresh.next_at <= self.now_ms():
                    await self.send(fresh)
        except Exception:  # noqa: BLE001
            log.warning("webhook delivery not settled", delivery_id=d.delivery_id, exc_info=True)
        finally:
            self._inflight.pop(key, None)
            self.wake()

    async def send(self, d: Delivery) -> Delivery:
        """One attempt at ``d``; the outcome is stored (delivered, failed, or pending with its next try)."""
        endpoint = await self.book.get(d.endpoint_id)
        if endpoint is None:
            self._record(d, None, 0, "endpoint removed")
            d.status = "failed"
            await self.store.update_webhook_delivery(d)
            return d
        started = time.monotonic()
        answer = await self.post(endpoint.url, wire_body(d), request_headers(d, endpoint.secret, self.now_ms()),
                                 self.policy.timeout)
        latency = int((time.monotonic() - started) * 1000)
        ok = answer.status is not None and 200 <= answer.status < 300
        self._record(d, answer.status, latency, answer.error if not ok else None)
        tries = len(d.attempts)
        if ok:
            d.status = "delivered"
        elif tries >= self.policy.max_attempts:
            d.status = "failed"
        else:
            delay = min(self.policy.backoff * 2 ** (tries - 1), self.policy.backoff_max) * (0.5 + self.jitter())
            d.next_at = self.now_ms() + int(delay * 1000)
        await self.store.update_webhook_delivery(d)
        log.info("webhook attempt", delivery_id=d.delivery_id, room_id=d.room_id, type=d.type, attempt=tries,
                 response_code=answer.status, latency_ms=latency, outcome=d.status, error=answer.error)
        count_webhook_delivery("retry" if d.status == "pending" else d.status)     # delivered | retry | failed
        return d

    def _record(self, d: Delivery, status: int | None, latency: int, error: str | None) -> None:
        if not error and status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        d.attempts.append({"at": self.now_ms(), "responseCode": status, "latencyMs": latency, "error": error})
        d.attempts = d.attempts[-MAX_LOGGED_ATTEMPTS:]
