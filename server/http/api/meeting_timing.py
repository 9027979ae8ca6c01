"""Meetings that end on time over REST: Antechamber extensions of both surfaces.

docs/compatibility.md "Meetings that end on time"; the live side is
signaling/live/meeting_clock.py. A room's ``meetingEndsAtEndDate``, ``maxDurationMinutes`` and
``soloTimeoutMinutes`` are set when it is created (both APIs) and changed with ``PUT .../timing``
while no meeting runs (409 ``room_active_meeting`` during one, checked in the same compare-and-set
step as the write, as the native API's other between-meetings changes); a running meeting with an
end is extended with ``POST .../extend {minutes}`` (everyone in it is told). Native paths answer
422 for bad input and epoch ms; the Whereby-compatible ones 400 and ISO 8601.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ...domain.errors import BadRequest, Conflict, NotFound, Unprocessable
from ...domain import end_dates
from ...store.records import Room
from ..appkeys import ROOMS
from .auth import add_routes
from .jsonbody import read_object
from .openapi import add_paths
from .room_view import TIMING_FIELDS, timing
from .schemas import ExtendMeetingIn, MeetingTimingIn, validate

NATIVE_PREFIXES = ("/api/v1", "/meet/api/v1")
def _iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


async def _put_timing(request: web.Request, room_id: str, error: type) -> Room:
    spec = validate(MeetingTimingIn, await read_object(request), error)
    svc = request.app[ROOMS]
    room = await svc.get(room_id)
    if spec.meetingEndsAtEndDate and end_dates.end_date(room) is None:
        raise error("meetingEndsAtEndDate needs an end date: set the room's autoDeletionDate first",
                    code="validation_error", details=[{"field": "meetingEndsAtEndDate", "message": "no end date"}])

    def change(r: Room) -> bool:
        if r.status == "active_meeting" or svc.live.has_meeting(r.room_id):
            return False
        for name in spec.model_fields_set:
            value = getattr(spec, name)
            setattr(r, TIMING_FIELDS[name], bool(value) if name == "meetingEndsAtEndDate" else value)
        return True
    updated = await svc.change(room_id, change, "timing")
    if updated is None:
        raise NotFound(f"room {room_id!r} does not exist", code="room_not_found")
    if not updated.result:
        raise Conflict(f"Room '{room_id}' has an active meeting: its timing changes between meetings",
                       code="room_active_meeting")
    return updated.room


async def _extend(request: web.Request, room_id: str, error: type) -> tuple[int, int]:
    spec = validate(ExtendMeetingIn, await read_object(request), error)
    svc = request.app[ROOMS]
    await svc.get(room_id)
    ends_at = await svc.live.extend_meeting(room_id, spec.minutes)
    if ends_at is None:
        raise Conflict(f"room {room_id!r} has no meeting running", code="no_active_meeting")
    return spec.minutes, ends_at


def _timing_route(param: str, error: type):
    """PUT .../timing: ``param`` names the room in the path, ``error`` is the surface's 422 / 400."""
    async def put_timing(request: web.Request) -> web.Response:
        room = await _put_timing(request, request.match_info[param], error)
        return web.json_response({param: room.room_id, **timing(room)})
    return put_timing


def _extend_route(param: str, error: type, native: bool):
    """POST .../extend: the native answer in epoch ms with a message, the Whereby one in ISO 8601."""
    async def extend(request: web.Request) -> web.Response:
        room_id = request.match_info[param]
        minutes, ends_at = await _extend(request, room_id, error)
        body: dict[str, Any] = {param: room_id, "minutes": minutes, "endsAt": ends_at if native else _iso(ends_at)}
        if native:
            body["message"] = f"Meeting in room '{room_id}' extended by {minutes} minutes"
        return web.json_response(body)
    return extend


def _doc(op_id: str, summary: str, body: str, ok: str, bad: int, param: str) -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/Error"}
    errors = {str(bad): "bad input; details name the field", "401": "missing or invalid API key",
              "404": "no such room", "409": "room_active_meeting (timing) or no_active_meeting / no_end_time (extend)"}
    return {"parameters": [{"name": param, "in": "path", "required": True, "schema": {"type": "string"}}],
            ("put" if "timing" in op_id.lower() else "post"): {
                "operationId": op_id, "summary": summary + " (Antechamber extension)", "tags": ["Meeting timing"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "$ref": f"#/components/schemas/{body}"}}}},
                "responses": {"200": {"description": ok},
                              **{s: {"description": d, "content": {"application/json": {"schema": error}}}
                                 for s, d in errors.items()}}}}


def setup(app: web.Application) -> None:
    add_routes(app, NATIVE_PREFIXES, [
        ("PUT", "/rooms/{roomId}/timing", _timing_route("roomId", Unprocessable)),
        ("POST", "/rooms/{roomId}/meeting/extend", _extend_route("roomId", Unprocessable, native=True)),
    ])
    add_routes(app, ["/v1"], [
        ("PUT", "/meetings/{meetingId}/timing", _timing_route("meetingId", BadRequest)),
        ("POST", "/meetings/{meetingId}/extend", _extend_route("meetingId", BadRequest, native=False)),
    ])
    paths: dict[str, Any] = {}
    for prefix in NATIVE_PREFIXES:
        suffix = "" if prefix == "/api/v1" else "Meet"
        paths[f"{prefix}/rooms/{{roomId}}/timing"] = _doc(
            "updateRoomTiming" + suffix, "Set meetingEndsAtEndDate / maxDurationMinutes / soloTimeoutMinutes "
            "between meetings (null clears)", "MeetingTimingIn", "the room's timing", 422, "roomId")
        paths[f"{prefix}/rooms/{{roomId}}/meeting/extend"] = _doc(
            "extendMeeting" + suffix, "Extend the running meeting by N minutes; everyone in it is told",
            "ExtendMeetingIn", "{message, minutes, endsAt (epoch ms)}", 422, "roomId")
    paths["/v1/meetings/{meetingId}/timing"] = _doc(
        "updateMeetingTiming", "Set the meeting's timing between meetings (null clears)", "MeetingTimingIn",
        "the meeting's timing", 400, "meetingId")
    paths["/v1/meetings/{meetingId}/extend"] = _doc(
        "extendWherebyMeeting", "Extend the running meeting by N minutes; everyone in it is told",
        "ExtendMeetingIn", "{meetingId, minutes, endsAt (ISO 8601)}", 400, "meetingId")
    add_paths(app, paths)
