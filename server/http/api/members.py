"""Room members (OpenVidu Meet shape) at /api/v1/rooms/{roomId}/members and /meet/api/v1/...

A member has a name, a base role (moderator | speaker) and optional custom
permissions; its ``accessUrl`` is a personal link carrying a member key
(``?memberKey=``), derived from the server secret and never stored. Deleting a
member makes its link stop working at once and removes it from a live meeting.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal, Optional

import structlog
from aiohttp import web
from pydantic import Field

from signaling.permissions import effective_permissions

from ..appkeys import CREDENTIALS, SETTINGS, STORE
from ...domain.errors import NotFound, Unprocessable
from ...domain.live_meetings import LIVE
from ...live.directory import member_key
from ...store.records import Member, Room
from .auth import require_api_key
from .jsonbody import read_object
from .schemas import PermissionsIn, Strict, validate

log = structlog.get_logger("antechamber.members")

PREFIXES = ("/api/v1", "/meet/api/v1")
MAX_MEMBERS = 1000
NAME_MAX = 100


class CreateMemberIn(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    baseRole: Literal["moderator", "speaker"]
    customPermissions: Optional[PermissionsIn] = None  # type: ignore[valid-type]


class UpdateMemberIn(Strict):
    name: Optional[str] = Field(default=None, min_length=1, max_length=NAME_MAX)
    baseRole: Optional[Literal["moderator", "speaker"]] = None
    customPermissions: Optional[PermissionsIn] = None  # type: ignore[valid-type]


def _custom(spec: Any) -> dict[str, bool]:
    if spec is None:
        return {}
    return {k: v for k, v in spec.model_dump().items() if v is not None}


async def _room(request: web.Request) -> Room:
    room_id = request.match_info["roomId"]
    room = await request.app[STORE].get_room(room_id) if 0 < len(room_id) <= 200 else None
    if room is None:
        raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
    return room


async def _member(request: web.Request, room: Room) -> Member:
    member_id = request.match_info["memberId"]
    member = await request.app[STORE].get_member(room.room_id, member_id) if len(member_id) <= 100 else None
    if member is None:
        raise NotFound(f"member {member_id!r} does not exist in room {room.room_id!r}", code="member_not_found")
    return member


def render(request: web.Request, room: Room, member: Member) -> dict[str, Any]:
    key = member_key(request.app[CREDENTIALS].server_secret, member)
    return {
        "memberId": member.member_id,
        "roomId": member.room_id,
        "name": member.name,
        "baseRole": member.base_role,
        "customPermissions": dict(member.custom_permissions or {}),
        "effectivePermissions": effective_permissions(member.base_role, room.roles, member.custom_permissions),
        "accessUrl": f"{request.app[SETTINGS].base_url}/{room.room_id}?memberKey={key}",
        "creationDate": member.creation_date,
    }


async def create_member(request: web.Request) -> web.Response:
    room = await _room(request)
    spec = validate(CreateMemberIn, await read_object(request))
    store = request.app[STORE]
    if len(await store.list_members(room.room_id)) >= MAX_MEMBERS:
        raise Unprocessable(f"a room may have at most {MAX_MEMBERS} members", code="too_many_members")
    member = Member(member_id="mbr_" + secrets.token_urlsafe(9), room_id=room.room_id, name=spec.name,
                    base_role=spec.baseRole, custom_permissions=_custom(spec.customPermissions),
                    creation_date=int(time.time() * 1000))
    await store.create_member(member)
    log.info("member created", room_id=room.room_id, member_id=member.member_id, base_role=member.base_role)
    location = f"{request.path.rstrip('/')}/{member.member_id}"
    return web.json_response(render(request, room, member), status=201, headers={"Location": location})


async def list_members(request: web.Request) -> web.Response:
    room = await _room(request)
    members = await request.app[STORE].list_members(room.room_id)
    return web.json_response([render(request, room, m) for m in members])


async def get_member(request: web.Request) -> web.Response:
    room = await _room(request)
    return web.json_response(render(request, room, await _member(request, room)))


async def update_member(request: web.Request) -> web.Response:
    room = await _room(request)
    member = await _member(request, room)
    spec = validate(UpdateMemberIn, await read_object(request))
    before = f"name={member.name!r} baseRole={member.base_role}"
    if spec.name is not None:
        member.name = spec.name
    if spec.baseRole is not None:
        member.base_role = spec.baseRole
    if spec.customPermissions is not None:
        member.custom_permissions = _custom(spec.customPermissions)
    await request.app[STORE].update_member(member)
    log.info("member updated", room_id=room.room_id, member_id=member.member_id,
             change=f"{before} -> name={member.name!r} baseRole={member.base_role}")
    if spec.baseRole is not None or spec.customPermissions is not None:   # a connected member: at once
        await request.app[LIVE].member_updated(room.room_id, member.member_id, member.base_role,
                                               dict(member.custom_permissions or {}))
    return web.json_response(render(request, room, member))


async def delete_member(request: web.Request) -> web.Response:
    room = await _room(request)
    member = await _member(request, room)
    await request.app[STORE].delete_member(room.room_id, member.member_id)
    log.info("member deleted", room_id=room.room_id, member_id=member.member_id)
    await request.app[LIVE].member_removed(room.room_id, member.member_id)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    for prefix in PREFIXES:
        r = app.router
        base = f"{prefix}/rooms/{{roomId}}/members"
        r.add_post(base, require_api_key(create_member))
        r.add_get(base, require_api_key(list_members))
        r.add_get(f"{base}/{{memberId}}", require_api_key(get_member))
        r.add_put(f"{base}/{{memberId}}", require_api_key(update_member))
        r.add_delete(f"{base}/{{memberId}}", require_api_key(delete_member))
