"""What the REST layer may ask of live meetings (implemented by the signaling hub).

The REST handlers never reach into signaling internals; they call this port,
found at ``app[LIVE]``. ``NoLiveMeetings`` stands in until the hub is wired.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from ..store.records import Room


class LiveMeetings(Protocol):
    def has_meeting(self, room_id: str) -> bool: ...
    async def end_meeting(self, room_id: str, reason: str) -> None:
        """End the live meeting, if any; reason: meeting_ended | room_deleted | room_expired."""
    async def room_updated(self, room: Room) -> None:
        """Lock state, config, roles or status changed through REST."""
    async def member_removed(self, room_id: str, member_id: str) -> None:
        """A member was deleted: disconnect them if connected."""
    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        """A member's baseRole/customPermissions changed: apply them to a connected member now."""


class NoLiveMeetings:
    def has_meeting(self, room_id: str) -> bool:
        return False

    async def end_meeting(self, room_id: str, reason: str) -> None:
        return None

    async def room_updated(self, room: Room) -> None:
        return None

    async def member_removed(self, room_id: str, member_id: str) -> None:
        return None

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        return None


LIVE = web.AppKey("live_meetings", object)
