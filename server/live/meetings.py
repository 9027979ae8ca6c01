"""The LiveMeetings port (server/domain/live_meetings.py) on the signaling hub's public API."""

from __future__ import annotations

from typing import Any, Callable

from signaling.errors import RoomFull
from signaling.live.hub import Hub
from signaling.live.meeting_clock import NoEndTime

from ..config import Settings
from ..domain.errors import Conflict
from ..domain.live_meetings import LiveListener
from ..store.records import Room
from .directory import room_info


class HubLiveMeetings:
    def __init__(self, hub: Hub, settings: Settings) -> None:
        self.hub, self.settings = hub, settings

    def has_meeting(self, room_id: str) -> bool:
        return self.hub.has_meeting(room_id)

    async def end_meeting(self, room_id: str, reason: str) -> None:
        await self.hub.end_meeting(room_id, reason)

    async def room_updated(self, room: Room) -> None:
        await self.hub.room_updated(room_info(self.settings, room))

    async def member_removed(self, room_id: str, member_id: str) -> None:
        await self.hub.member_removed(room_id, member_id)

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        await self.hub.member_updated(room_id, member_id, base_role, custom_permissions)

    async def kick_participant(self, room_id: str, participant_id: str) -> bool:
        return self.hub.kick(room_id, participant_id)

    async def set_participant_role(self, room_id: str, participant_id: str, role: str) -> bool | None:
        try:
            return self.hub.set_role(room_id, participant_id, role)
        except RoomFull as exc:
            raise Conflict(str(exc), code="room_full") from None

    async def extend_meeting(self, room_id: str, minutes: int) -> int | None:
        try:
            return self.hub.extend_meeting(room_id, minutes)
        except NoEndTime as exc:
            raise Conflict(exc.message, code="no_end_time") from None

    async def announce(self, room_id: str, message: dict[str, Any]) -> bool:
        return self.hub.announce(room_id, message)

    async def send_to(self, room_id: str, participant_id: str, message: dict[str, Any]) -> bool:
        return self.hub.send_to(room_id, participant_id, message)

    async def participant_name(self, room_id: str, participant_id: str) -> str | None:
        return self.hub.display_name(room_id, participant_id)

    async def participant_count(self, room_id: str) -> int:
        return self.hub.participant_count(room_id)

    def subscribe(self, listener: LiveListener) -> Callable[[], None]:
        return self.hub.events.subscribe(listener)

    async def idle(self) -> None:
        await self.hub.idle()
