"""The hub's RoomDirectory (signaling.ports) on the domain: rooms resolved from the store, keys
checked by the one access rule, lock and meeting writes through the room service
(docs/architecture.md, "Objects and ownership").

The store unreachable (Redis down or hung): a ``join`` or a ``lock`` answers ``unavailable``; the
meeting writes queued on the hub's jobs are logged and dropped, so the meeting goes on (its record
misses that start or end; the room's status is settled by the next write that gets through).
"""

from __future__ import annotations

import contextlib

import structlog

from signaling.errors import Forbidden, Unavailable
from signaling.ports import Identity, RoomInfo

from ..config import Settings
from ..domain.access.identity import HOST, MEMBER, VIEWER, RoomAccess, link_enabled
from ..domain import end_dates
from ..domain.rooms.defaults import effective_config, max_participants
from ..domain.rooms.meetings import MeetingLog
from ..domain.rooms.service import RoomService
from ..store.base import Store
from ..store.records import Room
from ..store.redis_store import UNAVAILABLE_ERRORS

log = structlog.get_logger("antechamber.live")


@contextlib.contextmanager
def store_reachable():
    """Turn the store's 'unreachable' errors into signaling's ``unavailable``."""
    try:
        yield
    except UNAVAILABLE_ERRORS as exc:
        log.warning("store unreachable", error=type(exc).__name__)
        raise Unavailable() from None


@contextlib.contextmanager
def soft(what: str, room_id: str):
    """A meeting write while the store is unreachable: logged, not raised (the room goes on)."""
    try:
        yield
    except UNAVAILABLE_ERRORS as exc:
        log.warning("meeting write dropped: store unreachable", write=what, room_id=room_id,
                    error=type(exc).__name__)


def room_info(settings: Settings, room: Room) -> RoomInfo:
    """What the live room needs to know of a stored room (its version orders the news)."""
    return RoomInfo(
        room_id=room.room_id, display_name=room.room_name, status=room.status, is_locked=room.is_locked,
        mode=room.room_mode, max_participants=max_participants(settings, room), max_viewers=settings.max_viewers,
        config=effective_config(room), roles=room.roles or {}, source=room, version=room.version,
        meeting_ends_at=end_dates.meeting_end(room), max_duration_minutes=room.max_duration_minutes,
        solo_timeout_minutes=room.solo_timeout_minutes, expires_at=end_dates.expires_at(room),
    )


class StoreDirectory:
    """signaling.ports.RoomDirectory on the store, the access rule and the room service.

    The hub asks the domain through this directory and the domain asks the hub through the
    LiveMeetings port: the composition root builds the directory, then the hub, then the room
    service on the hub, and closes the cycle with ``connect`` before the app starts.
    """

    def __init__(self, settings: Settings, store: Store, access: RoomAccess) -> None:
        self.settings, self.store, self.access = settings, store, access
        self._rooms: RoomService | None = None
        self._meetings: MeetingLog | None = None

    def connect(self, rooms: RoomService, meetings: MeetingLog) -> None:
        """The write path of rooms and meetings (the room service is built on the hub)."""
        self._rooms, self._meetings = rooms, meetings

    @property
    def rooms(self) -> RoomService:
        assert self._rooms is not None, "StoreDirectory.connect was not called"
        return self._rooms

    @property
    def meetings(self) -> MeetingLog:
        assert self._meetings is not None, "StoreDirectory.connect was not called"
        return self._meetings

    async def resolve(self, room_name: str) -> RoomInfo | None:
        with store_reachable():
            room = await self.store.get_room(room_name)
        return room_info(self.settings, room) if room is not None else None

    async def identify(self, info: RoomInfo, key: str | None) -> Identity | None:
        with store_reachable():
            return await self._identify(info, key)

    async def _identify(self, info: RoomInfo, key: str | None) -> Identity | None:
        room = info.source if isinstance(info.source, Room) else await self.store.get_room(info.room_id)
        if room is None:
            return None
        if not key:
            if not link_enabled(room, "speaker"):
                raise Forbidden("this room cannot be joined with its public link")
            return Identity(role="guest", base_role="speaker")
        bearer = await self.access.bearer(room, key)
        if bearer is None:
            return None
        if bearer.kind == HOST:
            if not bearer.enabled:
                raise Forbidden("this room's host link is disabled")
            return Identity(role="host", base_role="moderator")
        if bearer.kind == VIEWER:
            return Identity(role="viewer", base_role="viewer")
        if bearer.kind == MEMBER and bearer.member is not None:
            member = bearer.member
            return Identity(role="host" if member.base_role == "moderator" else "guest", base_role=member.base_role,
                            member_id=member.member_id, custom_permissions=dict(member.custom_permissions or {}))
        return None     # the recording link opens recordings, not the meeting

    async def set_locked(self, room_id: str, locked: bool) -> RoomInfo | None:
        """Lock or unlock through the room service (compare-and-set). Returns the room as stored by
        THIS write (its version included): the hub applies it to the live room itself, so the
        service does not tell the live room too; a REST write landing after it has a newer version
        and reaches the live room after it."""
        def lock(r: Room) -> None:
            r.is_locked = locked
        with store_reachable():
            updated = await self.rooms.change(room_id, lock, "lock", tell_live=False)
        return room_info(self.settings, updated.room) if updated is not None else None

    async def meeting_started(self, room_id: str, room_session_id: str, start_ms: int) -> None:
        with soft("meeting_started", room_id):
            await self.meetings.started(room_id, room_session_id, start_ms)

    async def meeting_ended(self, room_id: str, room_session_id: str, start_ms: int, end_ms: int,
                            peak: int, reason: str) -> None:
        with soft("meeting_ended", room_id):
            await self.meetings.ended(room_id, room_session_id, start_ms, end_ms, peak, reason)
