"""The native room object (OpenVidu Meet 3.8 shape, every field its typings mark always present)
that the room endpoints answer with."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from signaling.rules.permissions import effective_permissions

from ...domain.access.identity import link_enabled
from ...domain.rooms.defaults import effective_config, max_participants, meeting_end_action
from ...store.records import Room
from ..appkeys import LINKS, ROOMS, SETTINGS
from .query import project, projection

# Rooms are created with the server's API key; OpenVidu Meet names the owner of rooms its admin creates
# by the admin's user id, and "admin" is that id in a default OpenVidu Meet deployment.
OWNER = "admin"
# MEET_ROOM_FIELDS / MEET_ROOM_EXTRA_FIELDS (meet-ce/typings room-response.ts at 3.8) for ``fields`` /
# ``extraFields`` / ``X-Fields`` / ``X-ExtraFields``; isLocked, roomMode and maxParticipants are ours and
# come along only when no projection is asked for.
FIELDS = ("roomId", "roomName", "owner", "creationDate", "config", "roles", "access", "status",
          "rolesUpdatedAt", "meetingEndAction", "autoDeletionDate", "autoDeletionPolicy")
EXTRA_FIELDS = ("config", "roles")


# meetings that end on time (Antechamber extensions of both APIs; server/http/api/meeting_timing.py)
TIMING_FIELDS = {"meetingEndsAtEndDate": "meeting_ends_at_end_date", "maxDurationMinutes": "max_duration_minutes",
                 "soloTimeoutMinutes": "solo_timeout_minutes"}


def timing(room: Room, only_set: bool = False) -> dict[str, Any]:
    """The room's timing fields as the APIs show them (``only_set``: those the room sets)."""
    out = {name: getattr(room, attr) for name, attr in TIMING_FIELDS.items()}
    out["meetingEndsAtEndDate"] = bool(out["meetingEndsAtEndDate"])
    if only_set:
        out = {k: v for k, v in out.items() if v}
    return out


def render_roles(room: Room) -> dict[str, Any]:
    return {
        "moderator": {"permissions": effective_permissions("moderator", room.roles)},
        "speaker": {"permissions": effective_permissions("speaker", room.roles)},
    }


def render_access(app: web.Application, room: Room) -> dict[str, Any]:
    """``access``: each anonymous entry with its link (a turned-off link grants nothing) and ``user``
    (stored only: there are no user accounts here; its url is the room's plain guest link)."""
    links = app[LINKS]
    anonymous: dict[str, Any] = {}
    for entry, url_of in (("moderator", links.host), ("speaker", links.guest), ("recording", links.recordings)):
        anonymous[entry] = {"enabled": link_enabled(room, entry), "url": url_of(room)}
    user = ((room.access or {}).get("user") or {})
    return {"anonymous": anonymous,
            "user": {"enabled": bool(user.get("enabled", False)), "url": links.guest(room)}}


def render(app: web.Application, room: Room) -> dict[str, Any]:
    body: dict[str, Any] = {
        "roomId": room.room_id,
        "roomName": room.room_name,
        "owner": OWNER,
        "creationDate": room.creation_date,
        "autoDeletionDate": room.auto_deletion_date,
        "autoDeletionPolicy": dict(room.auto_deletion_policy),
        "config": effective_config(room),
        "roles": render_roles(room),
        "access": render_access(app, room),
        "status": app[ROOMS].status_of(room),
        "rolesUpdatedAt": room.roles_updated_at or room.creation_date,
        "meetingEndAction": meeting_end_action(room),
        "isLocked": room.is_locked,
        "roomMode": room.room_mode,
        "maxParticipants": max_participants(app[SETTINGS], room),
        **timing(room),       # Antechamber extensions
        "embedOrigins": list(room.embed_origins or []),
    }
    if body["autoDeletionDate"] is None:  # optional in OpenVidu's typings: absent, not null
        del body["autoDeletionDate"]
    return body


def rendered(request: web.Request, room: Room) -> dict[str, Any]:
    """``render`` narrowed to the request's projection (query.projection), the whole room without one."""
    return project(render(request.app, room), projection(request, FIELDS, EXTRA_FIELDS))
