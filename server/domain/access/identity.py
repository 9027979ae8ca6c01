"""Key -> identity: who a key makes its bearer in one room. The one rule, used by joining
(server/live/directory.py) and by recording access (server/http/api/recordings_native.py).

The keys (derived from the server secret, never stored; server/domain/access/keys.py):

* host key      ``derive_key(secret, room_id, "host", room.key_version)``: the host link (``?roomKey=``);
* viewer key    the same with ``"viewer"`` (``?viewerKey=``);
* recording key the same with ``"recording"``: the room's recordings page (``?recordingKey=``);
* member key    ``<memberId>.<derive_key(secret, room_id, "member:<memberId>", member.key_version)>``
  (``?memberKey=``, sent as ``join.key``): a member's personal link.

A room may turn its anonymous links off (``access.anonymous.<moderator|speaker|recording>.enabled``):
a bearer of a turned-off link is found (``Bearer.enabled`` False) and granted nothing; what a
caller answers then is its own (the websocket says why, recordings answer 403 as for any key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from signaling.rules.permissions import effective_permissions

from ...store.records import Member, Room
from .keys import derive_key, key_matches

HOST, VIEWER, RECORDING, MEMBER = "host", "viewer", "recording", "member"
MEMBER_ID_MAX = 100
# the anonymous access entry that can turn each kind of link off
_LINK_ENTRY = {HOST: "moderator", RECORDING: "recording"}


class _Members(Protocol):
    async def get_member(self, room_id: str, member_id: str) -> Member | None: ...


def link_enabled(room: Room, entry: str) -> bool:
    """Whether the room's anonymous ``entry`` link (moderator | speaker | recording) is on (default: on)."""
    anonymous = (room.access or {}).get("anonymous") or {}
    return bool((anonymous.get(entry) or {}).get("enabled", True))


def member_role(member_id: str) -> str:
    return f"member:{member_id}"


@dataclass(frozen=True)
class Bearer:
    """Who a key makes its bearer in a room."""

    kind: str                      # host | viewer | recording | member
    member: Member | None = None   # for kind member
    enabled: bool = True           # False: the room has turned this link off; it grants nothing

    @property
    def base_role(self) -> str:
        """moderator | speaker | viewer (the recording link: viewer)."""
        if self.member is not None:
            return self.member.base_role
        return "moderator" if self.kind == HOST else "viewer"

    def permissions(self, room: Room) -> dict[str, bool]:
        """The bearer's effective permissions in ``room``: nothing for a turned-off link, reading
        recordings for the recording link, else its base role's with the room's and member's overrides."""
        if not self.enabled:
            return {}
        if self.kind == RECORDING:
            return {"canRetrieveRecordings": True}
        custom = self.member.custom_permissions if self.member is not None else None
        return effective_permissions(self.base_role, room.roles, custom)


class RoomAccess:
    """Derives a room's keys and tells who a presented key makes its bearer."""

    def __init__(self, server_secret: bytes, members: _Members) -> None:
        self._secret = server_secret
        self._members = members

    def key(self, room: Room, kind: str) -> str:
        """The room's host | viewer | recording key."""
        return derive_key(self._secret, room.room_id, kind, room.key_version)

    def member_key(self, member: Member) -> str:
        key = derive_key(self._secret, member.room_id, member_role(member.member_id), member.key_version)
        return f"{member.member_id}.{key}"

    async def bearer(self, room: Room, key: str) -> Bearer | None:
        """Who ``key`` makes its bearer in ``room``; None if it is no key of this room."""
        for kind in (HOST, VIEWER, RECORDING):
            if key_matches(self._secret, room.room_id, kind, room.key_version, key):
                entry = _LINK_ENTRY.get(kind)
                return Bearer(kind, enabled=entry is None or link_enabled(room, entry))
        member_id, dot, member_key = key.partition(".")
        if not dot or not member_id or len(member_id) > MEMBER_ID_MAX:
            return None
        member = await self._members.get_member(room.room_id, member_id)
        if member is None or not key_matches(self._secret, room.room_id, member_role(member_id),
                                             member.key_version, member_key):
            return None
        return Bearer(MEMBER, member=member)
