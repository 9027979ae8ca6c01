"""Room members (OpenVidu Meet shape) at /api/v1/rooms/{roomId}/members and /meet/api/v1/...

The rules (member keys, limits, telling a live meeting) are server/domain/rooms/members.py;
this module validates requests and renders members, ``accessUrl`` being the personal link.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from aiohttp import web
from pydantic import Field

from signaling.rules.permissions import effective_permissions

from ...store.records import Member, Room
from ..appkeys import LINKS, MEMBERS
from .auth import add_routes
from .jsonbody import read_object
from .schemas import PermissionsIn, Strict, validate

PREFIXES = ("/api/v1", "/meet/api/v1")
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
    return await request.app[MEMBERS].room(request.match_info["roomId"])


async def _member(request: web.Request, room: Room) -> Member:
    return await request.app[MEMBERS].get(room, request.match_info["memberId"])


def render(request: web.Request, room: Room, member: Member) -> dict[str, Any]:
    return {
        "memberId": member.member_id,
        "roomId": member.room_id,
        "name": member.name,
        "baseRole": member.base_role,
        "customPermissions": dict(member.custom_permissions or {}),
        "effectivePermissions": effective_permissions(member.base_role, room.roles, member.custom_permissions),
        "accessUrl": request.app[LINKS].member(room, member),
        "creationDate": member.creation_date,
    }


async def create_member(request: web.Request) -> web.Response:
    room = await _room(request)
    spec = validate(CreateMemberIn, await read_object(request))
    member = await request.app[MEMBERS].create(room, spec.name, spec.baseRole, _custom(spec.customPermissions))
    location = f"{request.path.rstrip('/')}/{member.member_id}"
    return web.json_response(render(request, room, member), status=201, headers={"Location": location})


async def list_members(request: web.Request) -> web.Response:
    room = await _room(request)
    members = await request.app[MEMBERS].list(room)
    return web.json_response([render(request, room, m) for m in members])


async def get_member(request: web.Request) -> web.Response:
    room = await _room(request)
    return web.json_response(render(request, room, await _member(request, room)))


async def update_member(request: web.Request) -> web.Response:
    room = await _room(request)
    member = await _member(request, room)
    spec = validate(UpdateMemberIn, await read_object(request))
    custom = _custom(spec.customPermissions) if spec.customPermissions is not None else None
    member = await request.app[MEMBERS].update(room, member, name=spec.name, base_role=spec.baseRole,
                                               custom_permissions=custom)
    return web.json_response(render(request, room, member))


async def delete_member(request: web.Request) -> web.Response:
    room = await _room(request)
    member = await _member(request, room)
    await request.app[MEMBERS].delete(room, member)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    base = "/rooms/{roomId}/members"
    add_routes(app, PREFIXES, [
        ("POST", base, create_member), ("GET", base, list_members), ("GET", base + "/{memberId}", get_member),
        ("PUT", base + "/{memberId}", update_member), ("DELETE", base + "/{memberId}", delete_member),
    ])
