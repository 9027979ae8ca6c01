"""The access links of a room and its members, built on the public URL and the room's keys.

guest ``<public-url>/<room_id>``, host ``?roomKey=``, viewer ``?viewerKey=``, member ``?memberKey=``,
the recordings page ``/<room_id>/recordings?recordingKey=``. Links carry keys: never log them.
"""

from __future__ import annotations

from ...store.records import Member, Room
from .identity import HOST, RECORDING, VIEWER, RoomAccess


class RoomLinks:
    def __init__(self, base_url: str, access: RoomAccess) -> None:
        self.base_url = base_url.rstrip("/")
        self._access = access

    def guest(self, room: Room) -> str:
        return f"{self.base_url}/{room.room_id}"

    def host(self, room: Room) -> str:
        return f"{self.guest(room)}?roomKey={self._access.key(room, HOST)}"

    def viewer(self, room: Room) -> str:
        return f"{self.guest(room)}?viewerKey={self._access.key(room, VIEWER)}"

    def recordings(self, room: Room) -> str:
        return f"{self.guest(room)}/recordings?recordingKey={self._access.key(room, RECORDING)}"

    def member(self, room: Room, member: Member) -> str:
        return f"{self.guest(room)}?memberKey={self._access.member_key(member)}"
