"""Room members (OpenVidu Meet shape) at /api/v1/rooms/{roomId}/members and /meet/api/v1/...

The rules (member keys, limits, telling a live meeting) are server/domain/rooms/members.py;
this module validates requests and renders members, ``accessUrl`` being the personal link.
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal, Optional

import regex
from aiohttp import web
from pydantic import Field

from signaling.rules.permissions import effective_permissions

from ...domain.errors import ApiError, Unprocessable
from ...store.records import Member, Room
from ..appkeys import LINKS, MEMBERS
from .auth import add_routes
from .jsonbody import read_object
from .query import bad_page_token, choice, id_list, invalid, max_items, project, projection
from .schemas import PermissionsIn, Strict, validate

PREFIXES = ("/api/v1", "/meet/api/v1")
NAME_MAX = 100
MAX_ITEMS = 100
DEFAULT_ITEMS = 10
MAX_BULK = 100
REGEX_BUDGET_S = 0.25   # all the members of a listing together


class CreateMemberIn(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    userId: Optional[str] = Field(None, max_length=NAME_MAX)  # refused below: no user accounts here
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


# MEET_ROOM_MEMBER_FIELDS / MEET_ROOM_MEMBER_EXTRA_FIELDS (meet-ce/typings room-member-response.ts at 3.8)
# for ``fields`` / ``extraFields`` / ``X-Fields`` / ``X-ExtraFields``; creationDate (ours) comes along only
# when no projection is asked for.
FIELDS = ("memberId", "roomId", "type", "name", "membershipDate", "accessUrl", "baseRole", "customPermissions",
          "effectivePermissions", "permissionsUpdatedAt")
EXTRA_FIELDS = ("effectivePermissions",)


def rendered(request: web.Request, room: Room, member: Member) -> dict[str, Any]:
    """``render`` narrowed to the request's projection (query.projection), the whole member without one."""
    return project(render(request, room, member), projection(request, FIELDS, EXTRA_FIELDS))


def render(request: web.Request, room: Room, member: Member) -> dict[str, Any]:
    """OpenVidu Meet's MeetRoomMember; every member here is an identified guest (no user accounts).
    ``permissionsUpdatedAt`` is the later of the member's own role change and the room's roles change
    (which changes its effective permissions too); ``creationDate`` is kept for older clients."""
    own = member.permissions_updated_at or member.creation_date
    return {
        "memberId": member.member_id,
        "roomId": member.room_id,
        "type": "identified_guest",
        "name": member.name,
        "membershipDate": member.creation_date,
        "accessUrl": request.app[LINKS].member(room, member),
        "baseRole": member.base_role,
        "customPermissions": dict(member.custom_permissions or {}),
        "effectivePermissions": effective_permissions(member.base_role, room.roles, member.custom_permissions),
        "permissionsUpdatedAt": max(own, room.roles_updated_at or 0),
        "creationDate": member.creation_date,
    }


async def create_member(request: web.Request) -> web.Response:
    room = await _room(request)
    body = await read_object(request)
    if isinstance(body, dict) and body.get("userId") is not None:
        raise Unprocessable("user members are not supported: there are no user accounts here; add an "
                            "identified guest with `name`", code="user_members_not_supported",
                            details=[{"field": "userId", "message": "user members are not supported"}])
    spec = validate(CreateMemberIn, body)
    member = await request.app[MEMBERS].create(room, spec.name, spec.baseRole, _custom(spec.customPermissions))
    location = f"{request.path.rstrip('/')}/{member.member_id}"
    return web.json_response(rendered(request, room, member), status=201, headers={"Location": location})


def _name_matcher(request: web.Request):
    """The ``name`` filter with ``nameMatchMode`` (exact | prefix | partial | regex; default exact) and
    ``nameCaseInsensitive`` (default false), as OpenVidu Meet's list of members has them."""
    name = request.query.get("name") or None
    mode = choice(request, "nameMatchMode", ("exact", "prefix", "partial", "regex"), "exact")
    fold_raw = (request.query.get("nameCaseInsensitive") or "false").lower()   # 'TRUE' too, as OpenVidu reads it
    if fold_raw not in ("true", "false"):
        raise invalid("nameCaseInsensitive", "must be true or false")
    fold = fold_raw == "true"
    if name is None:
        return None
    if len(name) > NAME_MAX:
        raise invalid("name", f"must be at most {NAME_MAX} characters")
    flags = re.IGNORECASE if fold else 0
    if mode == "regex":
        return _regex_matcher(name, fold)
    literal = re.escape(name)
    pattern = re.compile({"exact": f"^{literal}$", "prefix": f"^{literal}", "partial": literal}[mode], flags)
    return lambda value: pattern.search(value) is not None


def _regex_matcher(name: str, fold: bool):
    """A client's regular expression, run by the ``regex`` engine with a time budget for the whole
    listing (a pattern that backtracks without end answers 422 instead of holding the server)."""
    try:
        pattern = regex.compile(name, regex.IGNORECASE if fold else 0)
    except regex.error as exc:
        raise invalid("name", f"not a valid regular expression: {exc}") from None
    deadline = time.monotonic() + REGEX_BUDGET_S

    def matches(value: str) -> bool:
        try:
            return pattern.search(value, timeout=max(deadline - time.monotonic(), 0.001)) is not None
        except TimeoutError:
            raise invalid("name", "the regular expression takes too long to match; simplify it") from None
    return matches


def _page_size(request: web.Request) -> int:
    raw = request.query.get("maxItems")
    if raw not in (None, "") and raw.isascii() and raw.isdigit() and (len(raw) > 12 or int(raw) > MAX_ITEMS):
        return MAX_ITEMS  # clamped, as OpenVidu Meet does
    return max_items(request, DEFAULT_ITEMS, MAX_ITEMS)


def _offset(request: web.Request) -> int:
    token = request.query.get("nextPageToken") or ""
    if not token:
        return 0
    if not token.startswith("m") or not token[1:].isascii() or not token[1:].isdigit() or len(token) > 12:
        raise bad_page_token()
    return int(token[1:])


async def list_members(request: web.Request) -> web.Response:
    """``{members, pagination}`` filtered by ``name``, ``baseRole`` and ``type``, sorted by ``sortField``
    (name | membershipDate, default membershipDate) and ``sortOrder`` (default desc)."""
    room = await _room(request)
    matches = _name_matcher(request)
    base_role = choice(request, "baseRole", ("moderator", "speaker"), None)
    kind = choice(request, "type", ("user", "identified_guest"), None)
    sort_field = choice(request, "sortField", ("name", "membershipDate"), "membershipDate")
    descending = choice(request, "sortOrder", ("asc", "desc"), "desc") == "desc"
    size, start = _page_size(request), _offset(request)
    members = [m for m in await request.app[MEMBERS].list(room)
               if (matches is None or matches(m.name)) and (base_role is None or m.base_role == base_role)
               and kind in (None, "identified_guest")]
    members.sort(key=(lambda m: (m.name, m.member_id)) if sort_field == "name"
                 else (lambda m: (m.creation_date, m.member_id)), reverse=descending)
    page = members[start:start + size]
    more = start + size < len(members)
    return web.json_response({
        "members": [rendered(request, room, m) for m in page],
        "pagination": {"isTruncated": more, "nextPageToken": f"m{start + size}" if more else None,
                       "maxItems": size},
    })


async def get_member(request: web.Request) -> web.Response:
    room = await _room(request)
    return web.json_response(rendered(request, room, await _member(request, room)))


async def update_member(request: web.Request) -> web.Response:
    room = await _room(request)
    member = await _member(request, room)
    spec = validate(UpdateMemberIn, await read_object(request))
    custom = _custom(spec.customPermissions) if spec.customPermissions is not None else None
    member = await request.app[MEMBERS].update(room, member, name=spec.name, base_role=spec.baseRole,
                                               custom_permissions=custom)
    return web.json_response(rendered(request, room, member))


async def delete_member(request: web.Request) -> web.Response:
    room = await _room(request)
    member = await _member(request, room)
    await request.app[MEMBERS].delete(room, member)
    return web.json_response(
        {"message": f"Member '{member.member_id}' deleted successfully from room '{room.room_id}'"})


async def bulk_delete_members(request: web.Request) -> web.Response:
    """DELETE ...?memberIds=a,b: 200 ``{message, deleted, failed: []}`` when all went, else 400 with both."""
    room = await _room(request)
    member_ids = id_list(request, "memberIds", "member", MAX_BULK)
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    svc = request.app[MEMBERS]
    for member_id in member_ids:
        try:
            member = await svc.get(room, member_id)
        except ApiError as err:
            failed.append({"memberId": member_id, "error": err.code, "message": err.message})
            continue
        await svc.delete(room, member)
        deleted.append(member_id)
    if not failed:
        return web.json_response({"message": "All room members deleted successfully", "deleted": deleted, "failed": []})
    return web.json_response({"error": "bulk_delete_failed", "code": "bulk_delete_failed",
                              "message": f"{len(failed)} room member(s) could not be deleted",
                              "deleted": deleted, "failed": failed}, status=400)


def setup(app: web.Application) -> None:
    base = "/rooms/{roomId}/members"
    add_routes(app, PREFIXES, [
        ("POST", base, create_member), ("GET", base, list_members), ("DELETE", base, bulk_delete_members),
        ("GET", base + "/{memberId}", get_member),
        ("PUT", base + "/{memberId}", update_member), ("DELETE", base + "/{memberId}", delete_member),
    ])
