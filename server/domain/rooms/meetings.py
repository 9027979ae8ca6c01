"""A room's meetings: each one is recorded in the store, and the room's status follows them.

Called by the live directory when the hub starts or ends a meeting (docs/architecture.md,
"Life cycles"). A room with a meeting is ``active_meeting``, ``open`` again when the last
meeting here ended; a deletion scheduled with ``withMeeting=when_meeting_ends`` is carried out then.

It also keeps the participants' join/leave log of each meeting (``Participation``, behind Whereby's
insights), from the live events ``room.client.joined`` / ``room.client.left`` it subscribes to:
written in the order they happened, one after another, off the room's flow.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from ...store.base import Store
from ...store.records import Meeting, Participation, Room
from ..live_meetings import LiveMeetings
from .defaults import now_ms
from .service import RoomService

log = structlog.get_logger("antechamber.rooms")


class MeetingLog:
    def __init__(self, store: Store, rooms: RoomService, live: LiveMeetings) -> None:
        self.store, self.rooms, self.live = store, rooms, live
        self._in: dict[tuple[str, str], Participation] = {}    # (room id, participant id) -> open entry
        self._last_write: asyncio.Task[None] | None = None
        live.subscribe(self._on_event)

    def _on_event(self, name: str, data: dict[str, Any]) -> None:
        key = (data.get("room_id", ""), data.get("participant_id", ""))
        if name == "room.client.joined" and data.get("room_session_id"):
            entry = Participation(room_session_id=data["room_session_id"], participant_id=key[1], room_id=key[0],
                                  display_name=data.get("display_name") or "", role=data.get("role") or "guest",
                                  joined_at=now_ms())
            self._in[key] = entry
            self._write(Participation.from_doc(entry.to_doc()))
        elif name == "room.client.left" and key in self._in:
            self._left(self._in.pop(key), now_ms(), data.get("reason"))
        elif name == "room.session.ended":   # ending a meeting closes it without a left event per participant
            session = data.get("room_session_id")
            for k in [k for k, e in self._in.items() if e.room_session_id == session]:
                self._left(self._in.pop(k), data.get("end_ms") or now_ms(), data.get("reason"))
        elif name == "room.session.moved":   # handed over to another node: the stays here end (reason moved)
            for k in [k for k in self._in if k[0] == key[0]]:
                self._left(self._in.pop(k), now_ms(), "moved")

    def _left(self, entry: Participation, at: int, reason: str | None) -> None:
        entry.left_at, entry.leave_reason = max(at, entry.joined_at), reason
        self._write(Participation.from_doc(entry.to_doc()))

    def _write(self, entry: Participation) -> None:
        previous = self._last_write

        async def write() -> None:
            if previous is not None:
                await previous          # in order: a participant's leave after its join
            try:
                await self.store.put_participation(entry)
            except Exception:  # noqa: BLE001 - a lost log entry never breaks a meeting
                log.warning("participant log entry not written", room_id=entry.room_id,
                            participant_id=entry.participant_id, exc_info=True)
        self._last_write = asyncio.get_running_loop().create_task(write())

    async def written(self) -> None:
        """Wait until the participant log entries queued so far are written."""
        if self._last_write is not None:
            await self._last_write

    async def started(self, room_id: str, room_session_id: str, start_ms: int) -> None:
        await self.store.create_meeting(Meeting(room_session_id=room_session_id, room_id=room_id,
                                                start_date=start_ms, peak_participants=1))

        def start(r: Room) -> None:
            if r.status == "open":
                r.status = "active_meeting"
        await self.rooms.change(room_id, start, "status")

    async def ended(self, room_id: str, room_session_id: str, start_ms: int, end_ms: int,
                    peak: int, reason: str) -> None:
        await self.store.update_meeting(Meeting(room_session_id=room_session_id, room_id=room_id,
                                                start_date=start_ms, end_date=end_ms, peak_participants=peak,
                                                end_reason=reason))
        if self.live.has_meeting(room_id):    # a new meeting started meanwhile
            return

        def end(r: Room) -> None:             # checked again on every (re)try: a meeting may start meanwhile
            if r.status == "active_meeting" and not self.live.has_meeting(room_id):
                r.status = "open"
        updated = await self.rooms.change(room_id, end, "status")
        if updated is not None and updated.room.pending_deletion and not self.live.has_meeting(room_id):
            result = await self.rooms.complete_pending_deletion(room_id)
            if result is not None:
                log.info("scheduled room deletion done", room_id=room_id, outcome=result.success_code)
