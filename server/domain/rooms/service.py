"""The room service: the one write path of a room and its deletion policies, shared by both REST
surfaces (native and Whereby-compatible), the live directory and the sweeper.

Every write is a change applied to the room as stored now, under compare-and-set
(``RoomService.change``); a write that changed something reaches the live meeting with the room
as stored by it (docs/architecture.md, "Objects and ownership"). Deletion follows OpenVidu Meet's
policy matrix (``withMeeting`` x ``withRecordings``); recordings are deleted only through the
recording service, which owns their files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import structlog

from ...store.base import AlreadyExists, RecordingQuery, Store, StoreConflict
from ...store.records import Room
from ..errors import ApiError, Conflict, NotFound
from ..live_meetings import LiveMeetings
from ..recordings.service import RecordingService
from .defaults import now_ms
from .names import RandomPool, generate_name

log = structlog.get_logger("antechamber.rooms")

CREATE_ATTEMPTS = 8

# OpenVidu Meet's MeetRoomDeletionSuccessCode values; the *_scheduled_* ones answer 202.
SCHEDULED_CODES = frozenset({
    "room_with_active_meeting_scheduled_to_be_deleted",
    "room_with_active_meeting_scheduled_to_be_closed",
    "room_with_active_meeting_and_recordings_scheduled_to_be_deleted",
})

_SNAPSHOTS: dict[str, Callable[[Room], Any]] = {
    "config": lambda r: r.config, "roles": lambda r: r.roles, "access": lambda r: r.access,
    "status": lambda r: r.status, "lock": lambda r: r.is_locked, "closed": lambda r: r.status,
    "scheduled deletion": lambda r: r.pending_deletion,
    "keys": lambda r: f"key_version={r.key_version}",
    "timing": lambda r: (r.meeting_ends_at_end_date, r.max_duration_minutes, r.solo_timeout_minutes),
}


@dataclass(frozen=True)
class Updated:
    room: Room                   # as stored after the change (the current room if nothing changed)
    changed: bool                # False: the change altered nothing, nothing was written
    result: Any = None           # what the change function returned


@dataclass(frozen=True)
class DeletionResult:
    success_code: str
    message: str
    room: Room | None            # the room as it is after the operation, None if deleted

    @property
    def status(self) -> int:
        return 202 if self.success_code in SCHEDULED_CODES else 200


class RoomService:
    """Room operations on the store, telling live meetings what changed."""

    def __init__(self, store: Store, live: LiveMeetings, recordings: RecordingService, *,
                 random: RandomPool | None = None) -> None:
        self.store = store
        self.live = live
        self.recordings = recordings
        self.random = random or RandomPool()
        self.on_deleted: list[Callable[[str], None]] = []   # called with the room id once a room is deleted

    def status_of(self, room: Room) -> str:
        """The status to show: a room with a live meeting here is ``active_meeting`` unless closed."""
        if room.status != "closed" and self.live.has_meeting(room.room_id):
            return "active_meeting"
        return room.status

    # --- create / read ------------------------------------------------------------------

    async def create(self, *, prefix: str = "", pattern: str = "uuid", **fields: Any) -> Room:
        """Create a room with a fresh id (prefix + generated name), retrying on collision."""
        created = now_ms()
        for _ in range(CREATE_ATTEMPTS):
            room = Room(room_id=prefix + generate_name(pattern, self.random), creation_date=created, **fields)
            try:
                await self.store.create_room(room)
            except AlreadyExists:
                continue
            log.info("room created", room_id=room.room_id, api=room.api, room_mode=room.room_mode,
                     is_locked=room.is_locked)
            return room
        raise ApiError("could not find a free room name; try again or use the uuid pattern",
                       code="room_name_exhausted", status=503)

    async def get(self, room_id: str) -> Room:
        room = await self.store.get_room(room_id)
        if room is None:
            raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
        return room

    async def change(self, room_id: str, change: Callable[[Room], Any], what: str, *,
                     tell_live: bool = True) -> Updated | None:
        """The one way a room is written: ``change`` applied to the room as stored now.

        The store applies it under compare-and-set (``Store.modify_room``: re-read and re-applied
        on a conflict, so ``change`` must be pure and may run more than once), then the change is
        logged and, if something changed and ``tell_live``, the live meeting is told with the room
        AS STORED by this write (its version orders it against other writes' news). None if the
        room does not exist. ``tell_live=False`` is for a caller that applies the result to the live
        room itself (the hub's ``lock``).
        """
        snapshot = _SNAPSHOTS.get(what, lambda r: None)

        def apply(room: Room) -> tuple[str, int, Any]:
            before, seen = repr(snapshot(room)), room.version
            return before, seen, change(room)

        try:
            out = await self.store.modify_room(room_id, apply)
        except StoreConflict:
            raise ApiError(f"room {room_id!r} is being changed by others right now; try again",
                           code="room_busy", status=503) from None
        if out is None:
            return None
        room, (before, seen, result) = out
        changed = room.version != seen
        if changed:
            log.info("room updated", room_id=room_id, what=what, change=f"{before} -> {snapshot(room)!r}",
                     version=room.version)
            if tell_live:
                await self.live.room_updated(room)
        else:
            log.debug("room unchanged", room_id=room_id, what=what, version=room.version)
        return Updated(room, changed, result)

    async def update(self, room_id: str, change: Callable[[Room], Any], what: str) -> Room:
        """``change`` the room (see ``change``); NotFound if it does not exist. Returns the room as stored."""
        updated = await self.change(room_id, change, what)
        if updated is None:
            raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
        return updated.room

    # --- delete ---------------------------------------------------------------------------

    async def has_recordings(self, room_id: str) -> bool:
        page = await self.store.list_recordings(RecordingQuery(room_id=room_id, limit=1))
        return bool(page.items)

    async def delete_recordings(self, room_id: str) -> int:
        """Delete a room's recordings (through the recording service, which owns their files); an
        active one is stopped (finalized) first."""
        await self.recordings.stop_room(room_id, reason="room_deleted")
        count = 0
        token = None
        while True:
            page = await self.store.list_recordings(RecordingQuery(room_id=room_id, limit=100, token=token))
            for rec in page.items:
                try:
                    await self.recordings.delete(rec.recording_id)
                except Conflict:   # still finishing in the background: it stays, listed by id
                    log.warning("recording kept: still finishing", recording_id=rec.recording_id)
                    continue
                count += 1
            if page.next_token is None:
                return count
            token = page.next_token

    async def delete(self, room_id: str, with_meeting: str = "fail", with_recordings: str = "fail",
                     reason: str = "room_deleted") -> DeletionResult:
        """Delete a room following OpenVidu Meet's policy matrix (fail checks first, nothing changed)."""
        room = await self.get(room_id)
        meeting = self.live.has_meeting(room_id)
        recordings = await self.has_recordings(room_id)
        base = f"room {room_id!r}"
        if meeting and with_meeting == "fail":
            code = "room_with_recordings_has_active_meeting" if recordings else "room_has_active_meeting"
            raise Conflict(f"{base} has an active meeting", code=code)
        if recordings and with_recordings == "fail":
            if meeting and with_meeting == "when_meeting_ends":
                raise Conflict(f"{base} with an active meeting cannot be scheduled for deletion: it has recordings",
                               code="room_with_active_meeting_has_recordings_cannot_schedule_deletion")
            code = "room_with_active_meeting_has_recordings" if meeting else "room_has_recordings"
            raise Conflict(f"{base} has recordings", code=code)

        close = recordings and with_recordings == "close"
        if meeting and with_meeting == "when_meeting_ends":
            def mark(r: Room) -> None:
                r.pending_deletion = {"action": "close" if close else "delete",
                                      "withRecordings": with_recordings, "reason": reason}
            room = await self.update(room_id, mark, "scheduled deletion")
            if close:
                return DeletionResult("room_with_active_meeting_scheduled_to_be_closed",
                                      f"{base} will be closed when its meeting ends (it has recordings)", room)
            if recordings:
                return DeletionResult("room_with_active_meeting_and_recordings_scheduled_to_be_deleted",
                                      f"{base} and its recordings will be deleted when its meeting ends", room)
            return DeletionResult("room_with_active_meeting_scheduled_to_be_deleted",
                                  f"{base} will be deleted when its meeting ends", room)

        # with_meeting == force, or no meeting: still turn away anyone waiting in the lobby
        await self.live.end_meeting(room_id, reason)
        if close:
            room = await self.close(room_id)
            code = "room_with_active_meeting_closed" if meeting else "room_closed"
            return DeletionResult(code, f"{base} was closed instead of deleted: it has recordings", room)
        if recordings and with_recordings == "force":
            await self.delete_recordings(room_id)
        await self.store.delete_room(room_id)   # with_recordings == "keep": recordings outlive the room
        for listener in self.on_deleted:
            listener(room_id)
        recordings = recordings and with_recordings == "force"
        log.info("room deleted", room_id=room_id, reason=reason, ended_meeting=meeting, recordings_deleted=recordings)
        if meeting:
            code = "room_with_active_meeting_and_recordings_deleted" if recordings else "room_with_active_meeting_deleted"
        else:
            code = "room_and_recordings_deleted" if recordings else "room_deleted"
        return DeletionResult(code, f"{base} deleted", None)

    async def complete_pending_deletion(self, room_id: str) -> DeletionResult | None:
        """Carry out a deletion scheduled with withMeeting=when_meeting_ends (call when the meeting ends).

        Returns None when the room is gone or nothing was scheduled.
        """
        room = await self.store.get_room(room_id)
        if room is None or not room.pending_deletion:
            return None
        pending = room.pending_deletion
        if pending.get("status") == "closed":   # PUT status closed during the meeting (OpenVidu Meet 3.8)
            closed = await self.close(room_id)
            return DeletionResult("room_closed", f"room {room_id!r} closed: its meeting ended", closed)
        with_recordings = "close" if pending.get("action") == "close" else "force"
        try:
            return await self.delete(room_id, "force", with_recordings, reason=pending.get("reason", "room_deleted"))
        except NotFound:
            return None

    async def close(self, room_id: str) -> Room:
        def mark(r: Room) -> None:
            r.status = "closed"
            r.pending_deletion = None
        return await self.update(room_id, mark, "closed")
