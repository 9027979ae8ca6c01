"""A room's meetings: each one is recorded in the store, and the room's status follows them.

Called by the live directory when the hub starts or ends a meeting (docs/architecture.md,
"Life cycles"). A room with a meeting is ``active_meeting``, ``open`` again when the last
meeting here ended; a deletion scheduled with ``withMeeting=when_meeting_ends`` is carried out then.
"""

from __future__ import annotations

import structlog

from ...store.base import Store
from ...store.records import Meeting, Room
from ..live_meetings import LiveMeetings
from .service import RoomService

log = structlog.get_logger("antechamber.rooms")


class MeetingLog:
    def __init__(self, store: Store, rooms: RoomService, live: LiveMeetings) -> None:
        self.store, self.rooms, self.live = store, rooms, live

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
