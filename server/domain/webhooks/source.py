"""Where webhook deliveries come from (docs/webhooks.md "When an event is written").

``WebhookSource`` listens to this node's live events (subscribed like MeetingLog in
server/domain/rooms/meetings.py) and is told of every recording status change by the recording service
(awaited there, right after the status is stored). For each event it reads the room once, renders one
body per endpoint that wants the event in that endpoint's format, and appends those deliveries to the
store's outbox in one store call; the store numbers them per (endpoint, room). Writes run one after
another in the order the events happened, off the room's flow: a slow store never delays a meeting.

``room.session.moved`` (a cluster hand-over) is no end and sends nothing. Whereby's rule: nothing is
sent for a Whereby room from one hour after its ``endDate``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any, Callable

import structlog

from ...store.outbox_records import Delivery
from ...store.records import Recording
from .. import end_dates
from .endpoints import EndpointBook
from .formats import WebhookEvent, Views, WHEREBY_ROLES, body, type_in

log = structlog.get_logger("antechamber.webhooks")

_LIVE = {"room.client.joined", "room.client.left", "room.client.knocked", "room.client.knock_cancelled",
         "room.session.started", "room.session.ended", "room.session.ending_soon", "room.session.extended",
         "room.client.admission_abandoned"}


def now_ms() -> int:
    return int(time.time() * 1000)


class WebhookSource:
    def __init__(self, store: Any, book: EndpointBook, views: Views, *,
                 on_written: Callable[[], None] = lambda: None, clock: Callable[[], int] = now_ms) -> None:
        self.store, self.book, self.views = store, book, views
        self.on_written, self.clock = on_written, clock
        self._last: asyncio.Task[None] | None = None
        self._clients: dict[str, dict[str, str]] = {}      # room id -> participant id -> Whereby role name

    # --- inputs ---------------------------------------------------------------------------

    def on_live_event(self, name: str, data: dict[str, Any]) -> None:
        """A LiveMeetings listener (synchronous: schedules the write)."""
        room_id = data.get("room_id") or ""
        if name == "room.session.moved":     # goes on on another node: no end, nothing sent
            self._clients.pop(room_id, None)
            return
        if not room_id or name not in _LIVE:
            return
        people = self._clients.setdefault(room_id, {})
        if name == "room.client.joined":
            people[data.get("participant_id") or ""] = WHEREBY_ROLES.get(data.get("role") or "", "visitor")
        elif name == "room.client.left":
            people.pop(data.get("participant_id") or "", None)
        counts: dict[str, int] = {}
        for role in people.values():
            counts[role] = counts.get(role, 0) + 1
        if name == "room.session.ended" or not people:
            self._clients.pop(room_id, None)
        ev = WebhookEvent(event_id=uuid.uuid4().hex, name=name, room_id=room_id, at_ms=self.clock(),
                          data={k: v for k, v in data.items() if k != "room_id"}, clients=counts)
        self._queue(ev)

    async def recording_changed(self, rec: Recording) -> None:
        """Called by the recording service after a recording's status was stored."""
        await self.recording_event(f"recording.{rec.status}", rec)

    async def composition_changed(self, event: str, rec: Recording) -> None:
        """A Compositions listener: ``recording.composition_ready`` or ``recording.composition_failed``."""
        await self.recording_event(event, rec)

    async def recording_event(self, name: str, rec: Recording) -> None:
        ev = WebhookEvent(event_id=uuid.uuid4().hex, name=name, room_id=rec.room_id,
                          at_ms=self.clock(), data={"room_session_id": rec.room_session_id},
                          recording=dataclasses.replace(rec, tracks=list(rec.tracks or [])))
        await self._queue(ev)

    # --- writing --------------------------------------------------------------------------

    def _queue(self, ev: WebhookEvent) -> asyncio.Task[None]:
        previous = self._last

        async def write() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)     # in the order they happened
            try:
                await self.write(ev)
            except Exception:  # noqa: BLE001 - a lost webhook never breaks a meeting
                log.warning("webhook event not written", room_id=ev.room_id, domain_event=ev.name, exc_info=True)
        self._last = asyncio.get_running_loop().create_task(write())
        return self._last

    async def written(self) -> None:
        """Wait until the events queued so far are in the outbox."""
        if self._last is not None:
            await asyncio.gather(self._last, return_exceptions=True)

    async def write(self, ev: WebhookEvent) -> list[Delivery]:
        endpoints = [e for e in await self.book.all() if (t := type_in(e.format, ev.name)) and e.wants(t)]
        if not endpoints:
            return []
        ev.room = await self.store.get_room(ev.room_id)
        room = ev.room
        if room is not None and end_dates.expired(room, ev.at_ms):   # a Whereby room an hour past its endDate
            return []
        deliveries = []
        for e in endpoints:
            type_name = type_in(e.format, ev.name) or ""
            deliveries.append(Delivery(
                delivery_id="whd_" + uuid.uuid4().hex, event_id=ev.event_id, endpoint_id=e.endpoint_id,
                room_id=ev.room_id, type=type_name, format=e.format, body=body(e.format, type_name, ev, self.views),
                next_at=ev.at_ms, created_at=ev.at_ms))
        await self.store.append_webhook_deliveries(deliveries)
        log.info("webhook event written", room_id=ev.room_id, domain_event=ev.name, deliveries=len(deliveries))
        self.on_written()
        return deliveries
