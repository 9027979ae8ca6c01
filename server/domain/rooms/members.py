"""Room members: a name, a base role (moderator | speaker) and optional custom permissions.

A member's personal link carries a member key (server/domain/access/identity.py), derived and
never stored. Deleting a member makes its link stop working at once and removes it from a live
meeting; a changed role or permissions reach a connected member at once.
"""

from __future__ import annotations

import secrets

import structlog

from ...store.base import Store
from ...store.records import Member, Room
from ..errors import NotFound, Unprocessable
from ..live_meetings import LiveMeetings
from .defaults import now_ms

log = structlog.get_logger("antechamber.members")

MAX_MEMBERS = 1000
ROOM_ID_MAX = 200
MEMBER_ID_MAX = 100


class MemberService:
    def __init__(self, store: Store, live: LiveMeetings) -> None:
        self.store, self.live = store, live

    async def room(self, room_id: str) -> Room:
        room = await self.store.get_room(room_id) if 0 < len(room_id) <= ROOM_ID_MAX else None
        if room is None:
            raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
        return room

    async def get(self, room: Room, member_id: str) -> Member:
        member = await self.store.get_member(room.room_id, member_id) if len(member_id) <= MEMBER_ID_MAX else None
        if member is None:
            raise NotFound(f"member {member_id!r} does not exist in room {room.room_id!r}", code="member_not_found")
        return member

    async def list(self, room: Room) -> list[Member]:
        return await self.store.list_members(room.room_id)

    async def create(self, room: Room, name: str, base_role: str, custom_permissions: dict[str, bool]) -> Member:
        if len(await self.store.list_members(room.room_id)) >= MAX_MEMBERS:
            raise Unprocessable(f"a room may have at most {MAX_MEMBERS} members", code="too_many_members")
        member = Member(member_id="mbr_" + secrets.token_urlsafe(9), room_id=room.room_id, name=name,
                        base_role=base_role, custom_permissions=dict(custom_permissions), creation_date=now_ms())
        await self.store.create_member(member)
        log.info("member created", room_id=room.room_id, member_id=member.member_id, base_role=member.base_role)
        return member

    async def update(self, room: Room, member: Member, *, name: str | None = None, base_role: str | None = None,
                     custom_permissions: dict[str, bool] | None = None) -> Member:
        before = f"name={member.name!r} baseRole={member.base_role}"
        if name is not None:
            member.name = name
        if base_role is not None:
            member.base_role = base_role
        if custom_permissions is not None:
            member.custom_permissions = dict(custom_permissions)
        if base_role is not None or custom_permissions is not None:
            member.permissions_updated_at = now_ms()
        await self.store.update_member(member)
        log.info("member updated", room_id=room.room_id, member_id=member.member_id,
                 change=f"{before} -> name={member.name!r} baseRole={member.base_role}")
        if base_role is not None or custom_permissions is not None:   # a connected member: at once
            await self.live.member_updated(room.room_id, member.member_id, member.base_role,
                                           dict(member.custom_permissions or {}))
        return member

    async def delete(self, room: Room, member: Member) -> None:
        await self.store.delete_member(room.room_id, member.member_id)
        log.info("member deleted", room_id=room.room_id, member_id=member.member_id)
        await self.live.member_removed(room.room_id, member.member_id)
