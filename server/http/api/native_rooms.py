"""Native rooms API shaped like OpenVidu Meet 3.8, mounted at /api/v1 and /meet/api/v1.

Validation failures answer 422 with ``details`` naming each field; malformed
JSON 400; unknown rooms 404; deletion conflicts 409 with OpenVidu's error codes.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web

from ...domain.errors import ApiError, Conflict, NotFound
from ...domain.rooms.defaults import DEFAULT_ACCESS, DEFAULT_CONFIG, DEFAULT_POLICY, deep_merge, now_ms
from ...domain.rooms.service import RoomService
from ...store.base import InvalidToken, PatternTooSlow, RoomQuery
from ...store.records import Room
from ..appkeys import OWNERS, ROOMS, STORE
from .auth import add_routes
from .jsonbody import read_object
from .query import bad_page_token, choice, id_list, invalid, max_items, pattern_too_slow, room_name_filter
from .room_view import render, render_access, render_roles, rendered
from .schemas import (
    CreateRoomIn, Strict, UpdateAccessIn, UpdateConfigIn, UpdateLockIn, UpdateRolesIn, UpdateStatusIn, validate,
)

PREFIXES = ("/api/v1", "/meet/api/v1")
MAX_ITEMS = 100
DEFAULT_ITEMS = 10
MAX_BULK = 100
ROOM_ID_MAX = 200


def clamped_max_items(request: web.Request) -> int:
    """``maxItems``: a positive integer, clamped to 100 as OpenVidu Meet does (not refused)."""
    raw = request.query.get("maxItems")
    if raw not in (None, "") and raw.isascii() and raw.isdigit() and (len(raw) > 12 or int(raw) > MAX_ITEMS):
        return MAX_ITEMS
    return max_items(request, DEFAULT_ITEMS, MAX_ITEMS)


def _room_id(request: web.Request) -> str:
    room_id = request.match_info["roomId"]
    if not room_id or len(room_id) > ROOM_ID_MAX:
        raise invalid("roomId", f"must be 1 to {ROOM_ID_MAX} characters")
    return room_id


def _service(request: web.Request) -> RoomService:
    return request.app[ROOMS]


async def create_room(request: web.Request) -> web.Response:
    body = await read_object(request, allow_empty=True)
    spec = validate(CreateRoomIn, body)
    svc = _service(request)
    policy = spec.autoDeletionPolicy.model_dump() if spec.autoDeletionPolicy else dict(DEFAULT_POLICY)
    config = spec.config.model_dump(exclude_none=True) if spec.config else {}
    roles = spec.roles.model_dump(exclude_none=True) if spec.roles else {}
    access = spec.access.model_dump(exclude_none=True) if spec.access else {}
    room = await svc.create(
        prefix=spec.roomNamePrefix, pattern=spec.roomNamePattern,
        room_name=spec.roomName, auto_deletion_date=spec.autoDeletionDate, auto_deletion_policy=policy,
        config=deep_merge(DEFAULT_CONFIG, config), roles=roles, access=deep_merge(DEFAULT_ACCESS, access),
        is_locked=spec.isLocked, room_mode=spec.roomMode, api="native",
        meeting_ends_at_end_date=bool(spec.meetingEndsAtEndDate), max_duration_minutes=spec.maxDurationMinutes,
        solo_timeout_minutes=spec.soloTimeoutMinutes, embed_origins=spec.embedOrigins or [],
    )
    location = f"{request.path.rstrip('/')}/{room.room_id}"
    return web.json_response(rendered(request, room), status=201, headers={"Location": location})


async def list_rooms(request: web.Request) -> web.Response:
    q = request.query
    page_size = clamped_max_items(request)
    room_name, name_mode, name_fold = room_name_filter(request)
    query = RoomQuery(
        room_name=room_name, room_name_mode=name_mode, room_name_case_insensitive=name_fold,
        status=choice(request, "status", ("open", "active_meeting", "closed"), None),
        sort_field=choice(request, "sortField", ("creationDate", "roomName", "autoDeletionDate"),
                          "creationDate"),
        sort_order=choice(request, "sortOrder", ("asc", "desc"), "desc"),
        limit=page_size,
        token=q.get("nextPageToken") or None,
    )
    try:
        page = await request.app[STORE].list_rooms(query)
    except InvalidToken:
        raise bad_page_token() from None
    except PatternTooSlow:
        raise pattern_too_slow() from None
    return web.json_response({
        "rooms": [rendered(request, r) for r in page.items],
        "pagination": {"isTruncated": page.next_token is not None, "nextPageToken": page.next_token,
                       "maxItems": page_size},
    })


async def get_room(request: web.Request) -> web.Response:
    """The room; while a meeting runs and no projection is asked for, ``ownerNode`` names the node
    that owns the meeting (``app[OWNERS]``, see server/http/api/cluster.py)."""
    svc = _service(request)
    room = await svc.get(_room_id(request))
    body = rendered(request, room)
    if "isLocked" in body and OWNERS in request.app and _meeting_running(svc, room):   # the whole object
        owner = await request.app[OWNERS].owner(room.room_id)
        if owner is not None:
            body["ownerNode"] = owner
    return web.json_response(body)


def _deletion_policies(request: web.Request) -> tuple[str, str]:
    with_meeting = choice(request, "withMeeting", ("force", "when_meeting_ends", "fail"), "fail")
    with_recordings = choice(request, "withRecordings", ("force", "close", "fail"), "fail")
    return with_meeting, with_recordings  # type: ignore[return-value]


async def delete_room(request: web.Request) -> web.Response:
    room_id = _room_id(request)
    with_meeting, with_recordings = _deletion_policies(request)
    svc = _service(request)
    result = await svc.delete(room_id, with_meeting, with_recordings)
    body: dict[str, Any] = {"successCode": result.success_code, "message": result.message}
    if result.room is not None:
        body["room"] = rendered(request, result.room)
    return web.json_response(body, status=result.status)


async def bulk_delete_rooms(request: web.Request) -> web.Response:
    room_ids = id_list(request, "roomIds", "room", MAX_BULK)
    if any(len(r) > ROOM_ID_MAX for r in room_ids):
        raise invalid("roomIds", f"each room id must be at most {ROOM_ID_MAX} characters")
    with_meeting, with_recordings = _deletion_policies(request)
    deleted, failed = await _delete_each(request, room_ids, with_meeting, with_recordings)
    if not failed:
        return web.json_response({"message": "All rooms successfully processed for deletion",
                                  "deleted": deleted, "failed": []})
    body = {"error": "bulk_delete_failed", "code": "bulk_delete_failed",
            "message": f"{len(failed)} room(s) failed to process while deleting",
            "deleted": deleted, "failed": failed}
    return web.json_response(body, status=400)


async def _delete_each(request: web.Request, room_ids: list[str], with_meeting: str, with_recordings: str
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    svc = _service(request)
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for room_id in room_ids:
        try:
            result = await svc.delete(room_id, with_meeting, with_recordings)
        except ApiError as err:
            failed.append({"roomId": room_id, "error": err.code, "message": err.message})
            continue
        entry: dict[str, Any] = {"roomId": room_id, "successCode": result.success_code, "message": result.message}
        if result.room is not None:
            entry["room"] = rendered(request, result.room)
        successful.append(entry)
    return successful, failed


async def get_config(request: web.Request) -> web.Response:
    svc = _service(request)
    return web.json_response(render(request.app, await svc.get(_room_id(request)))["config"])


async def _update(request: web.Request, model, apply, what: str) -> Room:
    room_id = _room_id(request)
    spec = validate(model, await read_object(request))
    svc = _service(request)
    return await svc.update(room_id, lambda r: apply(r, spec), what)


def applies_live(request: web.Request) -> bool:
    """``applyLive=true`` (Antechamber's opt-in): change config, roles, access or status during a live
    meeting at once, participants told; without it these answer as OpenVidu Meet 3.8 does."""
    return choice(request, "applyLive", ("true", "false"), "false") == "true"


def _meeting_running(svc: RoomService, room: Room) -> bool:
    return room.status == "active_meeting" or svc.live.has_meeting(room.room_id)


async def _update_between_meetings(request: web.Request, model, apply, what: str) -> Room:
    """PUT config / roles / access: 409 while a meeting runs, as OpenVidu Meet 3.8's room service
    (``errorRoomActiveMeeting``), checked in the same compare-and-set step as the write."""
    if applies_live(request):
        return await _update(request, model, apply, what)
    room_id = _room_id(request)
    spec = validate(model, await read_object(request))
    svc = _service(request)

    def change(r: Room) -> bool:
        if _meeting_running(svc, r):
            return False
        apply(r, spec)
        return True
    updated = await svc.change(room_id, change, what)
    if updated is None:
        raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
    if not updated.result:
        raise Conflict(f"Room '{room_id}' has an active meeting", code="room_active_meeting")
    return updated.room


def _apply_config(room: Room, spec: UpdateConfigIn) -> None:
    room.config = deep_merge(deep_merge(DEFAULT_CONFIG, room.config or {}), spec.config.model_dump(exclude_none=True))


def _apply_roles(room: Room, spec: UpdateRolesIn, now: int) -> None:
    room.roles = deep_merge(room.roles or {}, spec.roles.model_dump(exclude_none=True))
    room.roles_updated_at = now


def _apply_access(room: Room, spec: UpdateAccessIn, now: int) -> None:
    room.access = deep_merge(deep_merge(DEFAULT_ACCESS, room.access or {}), spec.access.model_dump(exclude_none=True))
    room.roles_updated_at = now


def _apply_status(room: Room, spec: UpdateStatusIn) -> None:
    room.status = spec.status
    if room.pending_deletion and room.pending_deletion.get("status") == "closed":
        room.pending_deletion = None     # a close scheduled for the meeting's end is superseded


def _apply_status_3_8(svc: RoomService, room: Room, spec: UpdateStatusIn) -> bool:
    """OpenVidu Meet 3.8 (room.service.ts updateMeetRoomStatus): closing during a meeting schedules
    the close for the meeting's end (``meetingEndAction: close``; False = scheduled); any other
    change applies now and clears what was scheduled (``meetingEndAction: none``)."""
    if spec.status == "closed" and room.status != "closed" and _meeting_running(svc, room):
        room.pending_deletion = {"action": "close", "status": "closed", "reason": "room_closed"}
        return False
    room.status = spec.status
    room.pending_deletion = None
    return True


def _apply_lock(room: Room, spec: UpdateLockIn) -> None:
    room.is_locked = spec.isLocked


# OpenVidu Meet's real backend answers PUT config / roles / access with the updated part alone and
# PUT status with the whole room (room.controller.ts); the roles body is ``roles`` (the spec says ``config``).

async def put_config(request: web.Request) -> web.Response:
    room = await _update_between_meetings(request, UpdateConfigIn, _apply_config, "config")
    return web.json_response(render(request.app, room)["config"])


async def put_roles(request: web.Request) -> web.Response:
    now = now_ms()
    room = await _update_between_meetings(request, UpdateRolesIn, lambda r, spec: _apply_roles(r, spec, now), "roles")
    return web.json_response(render_roles(room))


async def put_access(request: web.Request) -> web.Response:
    now = now_ms()
    room = await _update_between_meetings(request, UpdateAccessIn, lambda r, spec: _apply_access(r, spec, now),
                                          "access")
    return web.json_response(render_access(request.app, room))


async def put_status(request: web.Request) -> web.Response:
    """200 with the room; closing during a meeting: 202, closed when the meeting ends (3.8), unless
    ``applyLive=true`` closes it now (new guests refused, the meeting goes on)."""
    if applies_live(request):
        room = await _update(request, UpdateStatusIn, _apply_status, "status")
        return web.json_response(rendered(request, room))
    room_id = _room_id(request)
    spec = validate(UpdateStatusIn, await read_object(request))
    svc = _service(request)
    updated = await svc.change(room_id, lambda r: _apply_status_3_8(svc, r, spec), "status")
    if updated is None:
        raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
    return web.json_response(rendered(request, updated.room), status=200 if updated.result else 202)


async def put_lock(request: web.Request) -> web.Response:
    room = await _update(request, UpdateLockIn, _apply_lock, "lock")  # Antechamber's own endpoint
    return web.json_response({"message": f"room {room.room_id!r} lock updated", "room": render(request.app, room)})


async def rotate_keys(request: web.Request) -> web.Response:
    """Bump the room's key version: every host, viewer and recording link issued so far stops working."""
    room_id = _room_id(request)
    svc = _service(request)

    def bump(room: Room) -> None:
        room.key_version += 1
    room = await svc.update(room_id, bump, "keys")
    return web.json_response({"message": f"room {room_id!r} keys rotated", "room": render(request.app, room)})


# --- meetings (OpenVidu Meet's /meetings endpoints, on the live hub through the LiveMeetings port) ---

MEETING_PREFIXES = (*PREFIXES, "/meet/internal-api/v1")


class ParticipantRoleIn(Strict):
    action: Literal["upgrade", "downgrade"]


def _participant(request: web.Request) -> str:
    identity = request.match_info["participantIdentity"]
    if not identity or len(identity) > ROOM_ID_MAX:
        raise invalid("participantIdentity", f"must be 1 to {ROOM_ID_MAX} characters")
    return identity


def _not_in_meeting(room_id: str, identity: str) -> NotFound:
    return NotFound(f"participant {identity!r} not found in room {room_id!r}", code="participant_not_found")


async def end_meeting(request: web.Request) -> web.Response:
    """Idempotent: 200 whether or not a meeting was running (participants are told ``meeting_ended``)."""
    room_id = _room_id(request)
    svc = _service(request)
    await svc.get(room_id)
    await svc.live.end_meeting(room_id, "meeting_ended")
    return web.json_response({"message": f"Meeting in room '{room_id}' ended successfully"})


async def kick_participant(request: web.Request) -> web.Response:
    room_id, identity = _room_id(request), _participant(request)
    svc = _service(request)
    await svc.get(room_id)
    if not await svc.live.kick_participant(room_id, identity):
        raise _not_in_meeting(room_id, identity)
    return web.json_response(
        {"message": f"Participant '{identity}' kicked successfully from meeting in room '{room_id}'"})


async def update_participant_role(request: web.Request) -> web.Response:
    """``upgrade`` makes the participant a host (moderator) for this meeting, ``downgrade`` a guest;
    409 when it has that standing already."""
    room_id, identity = _room_id(request), _participant(request)
    spec = validate(ParticipantRoleIn, await read_object(request))
    svc = _service(request)
    await svc.get(room_id)
    changed = await svc.live.set_participant_role(room_id, identity, "host" if spec.action == "upgrade" else "guest")
    if changed is None:
        raise _not_in_meeting(room_id, identity)
    if not changed:
        what = "promoted to moderator because they are one already" if spec.action == "upgrade" \
            else "demoted because they are not a moderator"
        raise Conflict(f"participant {identity!r} in room {room_id!r} cannot be {what}",
                       code="participant_role_conflict")
    return web.json_response({"message": f"Moderation action '{spec.action}' applied to participant "
                                         f"'{identity}' in room '{room_id}'"})


def setup(app: web.Application) -> None:
    add_routes(app, PREFIXES, [
        ("POST", "/rooms", create_room), ("GET", "/rooms", list_rooms), ("DELETE", "/rooms", bulk_delete_rooms),
        ("GET", "/rooms/{roomId}", get_room), ("DELETE", "/rooms/{roomId}", delete_room),
        ("GET", "/rooms/{roomId}/config", get_config), ("PUT", "/rooms/{roomId}/config", put_config),
        ("PUT", "/rooms/{roomId}/roles", put_roles), ("PUT", "/rooms/{roomId}/access", put_access),
        ("PUT", "/rooms/{roomId}/status", put_status), ("PUT", "/rooms/{roomId}/lock", put_lock),
        ("POST", "/rooms/{roomId}/rotate-keys", rotate_keys),
    ])
    participant = "/meetings/{roomId}/participants/{participantIdentity}"
    add_routes(app, MEETING_PREFIXES, [
        ("DELETE", "/meetings/{roomId}", end_meeting), ("DELETE", participant, kick_participant),
        ("PUT", participant + "/role", update_participant_role),
    ])
