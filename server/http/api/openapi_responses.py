"""Response schemas of the OpenAPI document (components/schemas): rooms, members and meetings.

Written by hand from what the handlers answer; the request schemas are generated from
the pydantic models (see openapi.py).
"""

from __future__ import annotations

from typing import Any

from signaling.rules.permissions import PERMISSIONS

from . import schemas

SUCCESS_CODES = {
    "room_deleted": "200: no meeting, no recordings; the room is gone",
    "room_with_active_meeting_deleted": "200: the meeting was ended (withMeeting=force) and the room deleted",
    "room_and_recordings_deleted": "200: room and recordings deleted (withRecordings=force)",
    "room_closed": "200: the room has recordings and withRecordings=close: it is closed, not deleted",
    "room_with_active_meeting_and_recordings_deleted": "200: meeting ended, room and recordings deleted",
    "room_with_active_meeting_closed": "200: meeting ended, room closed because it has recordings",
    "room_with_active_meeting_scheduled_to_be_deleted":
        "202: withMeeting=when_meeting_ends: deleted when the meeting ends",
    "room_with_active_meeting_scheduled_to_be_closed":
        "202: withMeeting=when_meeting_ends, withRecordings=close: closed when the meeting ends",
    "room_with_active_meeting_and_recordings_scheduled_to_be_deleted":
        "202: room and recordings deleted when the meeting ends",
}


# meetings that end on time (Antechamber extensions; server/http/api/meeting_timing.py). The Whereby
# meeting object carries them only when the room sets them.
TIMING = {
    "meetingEndsAtEndDate": {"type": "boolean", "description": "Antechamber extension: meetings end at the end date"},
    "maxDurationMinutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 1440,
                           "description": "Antechamber extension: a meeting's longest duration (hosts may extend)"},
    "soloTimeoutMinutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 1440,
                           "description": "Antechamber extension: a meeting with one participant alone this long ends"},
}


def _toggle() -> dict[str, Any]:
    return {"type": "object", "properties": {"enabled": {"type": "boolean"}}, "required": ["enabled"]}


def response_schemas() -> dict[str, Any]:
    """components/schemas for everything the native and Whereby-compatible APIs answer."""
    perms = {"type": "object", "properties": {p: {"type": "boolean"} for p in PERMISSIONS},
             "required": list(PERMISSIONS)}
    link = {"type": "object", "properties": {"enabled": {"type": "boolean"}, "url": {"type": "string"}},
            "required": ["enabled", "url"]}
    presets = list(schemas.ENCODING_PRESETS)
    config = {"type": "object", "properties": {
        **{k: _toggle() for k in ("chat", "virtualBackground", "e2ee")},
        "captions": {**_toggle(), "description": "stored; live captions are not offered here"},
        "recording": {"type": "object", "properties": {
            "enabled": {"type": "boolean"},
            "layout": {"enum": ["grid", "speaker", "single-speaker"], "description": "stored without effect"},
            "encoding": {"description": "stored without effect: a preset or {video, audio} options",
                         "oneOf": [{"enum": presets}, {"type": "object"}]}}, "required": ["enabled"]}},
        "required": ["chat", "recording", "virtualBackground", "e2ee", "captions"]}
    roles = {"type": "object", "properties": {
        r: {"type": "object", "properties": {"permissions": perms}, "required": ["permissions"]}
        for r in ("moderator", "speaker")}, "required": ["moderator", "speaker"]}
    access = {"type": "object", "properties": {
        "anonymous": {"type": "object", "properties": {r: link for r in ("moderator", "speaker", "recording")},
                      "required": ["moderator", "speaker", "recording"]},
        "user": {**link, "description": "stored without effect: there are no user accounts here"}},
        "required": ["anonymous", "user"]}
    return {
        "Error": {
            "type": "object",
            "properties": {
                "error": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"},
                "details": {"type": "array", "items": {
                    "type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["field", "message"]}},
            },
            "required": ["error", "message"],
        },
        "Room": {
            "type": "object",
            "properties": {
                "roomId": {"type": "string", "description": "URL slug; the guest link is <public-url>/<roomId>"},
                "roomName": {"type": "string"},
                "owner": {"type": "string", "description": "always 'admin': rooms belong to the API key holder"},
                "creationDate": {"type": "integer", "description": "epoch milliseconds"},
                "autoDeletionDate": {"type": "integer", "description": "absent when unset"},
                "autoDeletionPolicy": {"type": "object", "properties": {
                    "withMeeting": {"enum": ["force", "when_meeting_ends"]},
                    "withRecordings": {"enum": ["force", "close"]}}},
                "config": {"$ref": "#/components/schemas/RoomConfig"},
                "roles": {"$ref": "#/components/schemas/RoomRoles"},
                "access": {"$ref": "#/components/schemas/RoomAccess"},
                "status": {"enum": ["open", "active_meeting", "closed"]},
                "rolesUpdatedAt": {"type": "integer", "description": "last roles or access change (epoch ms)"},
                "meetingEndAction": {"enum": ["none", "close", "delete"],
                                     "description": "what a deletion scheduled for the meeting's end will do"},
                "isLocked": {"type": "boolean"},
                "roomMode": {"enum": ["normal", "group"]},
                "maxParticipants": {"type": "integer"},
                **TIMING,
                "ownerNode": {"type": "string", "description": "while a meeting runs (GET of one room, no "
                              "projection): the node that owns it (GET /api/v1/cluster/nodes)"},
            },
            "required": ["roomId", "roomName", "owner", "creationDate", "autoDeletionPolicy", "config",
                         "roles", "access", "status", "rolesUpdatedAt", "meetingEndAction", "isLocked", "roomMode",
                         "maxParticipants"],
        },
        "RoomConfig": config,
        "RoomRoles": roles,
        "RoomAccess": access,
        "RoomList": {
            "type": "object",
            "properties": {
                "rooms": {"type": "array", "items": {"$ref": "#/components/schemas/Room"}},
                "pagination": {"type": "object", "properties": {
                    "isTruncated": {"type": "boolean"}, "nextPageToken": {"type": ["string", "null"]},
                    "maxItems": {"type": "integer"}}},
            },
            "required": ["rooms", "pagination"],
        },
        "RoomDeletion": {
            "type": "object",
            "description": "successCode values: " + "; ".join(f"{k} ({v})" for k, v in SUCCESS_CODES.items()),
            "properties": {"successCode": {"enum": list(SUCCESS_CODES)}, "message": {"type": "string"},
                           "room": {"$ref": "#/components/schemas/Room"}},
            "required": ["successCode", "message"],
        },
        "BulkDeletion": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "deleted": {"type": "array", "items": {"type": "object", "properties": {
                    "roomId": {"type": "string"}, "successCode": {"enum": list(SUCCESS_CODES)},
                    "message": {"type": "string"}, "room": {"$ref": "#/components/schemas/Room"}}}},
                "failed": {"type": "array", "items": {"type": "object", "properties": {
                    "roomId": {"type": "string"}, "error": {"type": "string"}, "message": {"type": "string"}}}},
            },
            "required": ["message", "deleted", "failed"],
        },
        "Message": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
        "MemberList": {
            "type": "object",
            "properties": {
                "members": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}},
                "pagination": {"type": "object", "properties": {
                    "isTruncated": {"type": "boolean"}, "nextPageToken": {"type": ["string", "null"]},
                    "maxItems": {"type": "integer"}}, "required": ["isTruncated", "nextPageToken", "maxItems"]},
            },
            "required": ["members", "pagination"],
        },
        "MemberBulkDeletion": {
            "type": "object",
            "properties": {
                "message": {"type": "string"}, "deleted": {"type": "array", "items": {"type": "string"}},
                "failed": {"type": "array", "items": {"type": "object", "properties": {
                    "memberId": {"type": "string"}, "error": {"type": "string"}, "message": {"type": "string"}}}},
            },
            "required": ["message", "deleted", "failed"],
        },
        "RoomUpdate": {
            "type": "object",
            "properties": {"message": {"type": "string"}, "room": {"$ref": "#/components/schemas/Room"}},
            "required": ["message", "room"],
        },
        "Member": {
            "type": "object",
            "properties": {
                "memberId": {"type": "string"}, "roomId": {"type": "string"},
                "type": {"enum": ["identified_guest"], "description": "no user accounts here"},
                "name": {"type": "string"},
                "membershipDate": {"type": "integer", "description": "epoch milliseconds"},
                "baseRole": {"enum": ["moderator", "speaker"]},
                "customPermissions": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "effectivePermissions": perms,
                "permissionsUpdatedAt": {"type": "integer"},
                "accessUrl": {"type": "string", "description": "personal link with ?memberKey="},
                "creationDate": {"type": "integer", "description": "same as membershipDate (older clients)"},
            },
            "required": ["memberId", "roomId", "type", "name", "membershipDate", "baseRole", "effectivePermissions",
                         "permissionsUpdatedAt", "accessUrl"],
        },
        "Meeting": {
            "type": "object",
            "properties": {
                "meetingId": {"type": "string"},
                "roomName": {"type": "string", "description": "'/' + prefix + generated name"},
                "roomUrl": {"type": "string"},
                "startDate": {"type": "string", "format": "date-time"},
                "endDate": {"type": ["string", "null"], "format": "date-time", "description": "UTC, 'Z' suffix"},
                "hostRoomUrl": {"type": "string"},
                "viewerRoomUrl": {"type": "string"},
                **TIMING,
            },
            "required": ["meetingId", "roomName", "roomUrl", "startDate", "endDate"],
        },
        "MeetingList": {
            "type": "object",
            "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/Meeting"}},
                           "cursor": {"type": ["string", "null"]}},
            "required": ["results", "cursor"],
        },
    }
