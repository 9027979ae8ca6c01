"""Who enters at once, who knocks, who is turned away. Pure: no I/O.

docs/architecture.md "Paths: a knock, an RTP packet".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..errors import Forbidden, RoomClosed, RoomFull
from ..ports import Identity, RoomInfo
from .permissions import effective_permissions

ENTER, KNOCK = "enter", "knock"
MODERATION = "canKickParticipants"


@dataclass(frozen=True)
class Counts:
    participants: int = 0   # joined non-viewers
    viewers: int = 0


def permissions_for(room: RoomInfo, identity: Identity) -> dict[str, bool]:
    return effective_permissions(identity.base_role, room.roles, identity.custom_permissions)


def has_room_for(room: RoomInfo, role: str, counts: Counts) -> bool:
    if role == "viewer":
        return counts.viewers < room.max_viewers
    return counts.participants < room.max_participants


def decide(room: RoomInfo, identity: Identity, counts: Counts, permissions: Mapping[str, bool]) -> str:
    """ENTER or KNOCK for a joiner; raises RoomClosed / Forbidden / RoomFull."""
    if room.status == "closed":
        raise RoomClosed()
    if not permissions.get("canJoinMeeting", False):
        raise Forbidden("your role may not join meetings in this room")
    if not has_room_for(room, identity.role, counts):
        raise RoomFull("the room is full" if identity.role != "viewer" else "no room for another viewer")
    if identity.role == "guest" and not identity.is_member and room.is_locked:
        return KNOCK
    return ENTER


def is_moderator(permissions: Mapping[str, bool]) -> bool:
    return bool(permissions.get(MODERATION))
