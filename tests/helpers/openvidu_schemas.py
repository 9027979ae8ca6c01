"""JSON schemas of OpenVidu Meet 3.8's rooms and members answers, written from its published spec
(OpenVidu/openvidu-meet v3.8.0, meet-ce/backend/openapi/rooms/, room-members/, shared/) and its
TypeScript types (meet-ce/typings/src/database/room.entity.ts, room-config.ts, room-member.entity.ts),
which say which fields are always present (the YAML schemas do not). Extra fields of ours are
allowed, as they are for an OpenVidu client.
"""

from __future__ import annotations

from typing import Any

import jsonschema

PERMISSION_NAMES = (
    "canRecord", "canRetrieveRecordings", "canDeleteRecordings", "canJoinMeeting", "canShareAccessLinks",
    "canMakeModerator", "canKickParticipants", "canEndMeeting", "canPublishVideo", "canPublishAudio",
    "canShareScreen", "canReadChat", "canWriteChat", "canChangeVirtualBackground",
)
ENCODING_PRESETS = (
    "H264_720P_30", "H264_720P_60", "H264_1080P_30", "H264_1080P_60",
    "PORTRAIT_H264_720P_30", "PORTRAIT_H264_720P_60", "PORTRAIT_H264_1080P_30", "PORTRAIT_H264_1080P_60",
)


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


BOOL = {"type": "boolean"}
INT = {"type": "integer"}
STR = {"type": "string"}
TOGGLE = _obj(["enabled"], enabled=BOOL)

# shared/schemas/error.yaml
ERROR = _obj(["error", "message"], error=STR, message=STR,
             details={"type": "array", "items": _obj([], field=STR, message=STR)})
MESSAGE = _obj(["message"], message=STR)

# MeetRoomMemberPermissions: all fourteen, booleans
PERMISSIONS = _obj(list(PERMISSION_NAMES), **{p: BOOL for p in PERMISSION_NAMES})

# MeetRoomConfig (room-config.ts): chat, recording, virtualBackground, e2ee, captions always present
VIDEO_ENCODING = _obj(["width", "height", "framerate", "codec", "bitrate", "keyFrameInterval", "depth"],
                      width=INT, height=INT, framerate=INT, bitrate=INT, depth=INT, keyFrameInterval={"type": "number"},
                      codec={"enum": ["DEFAULT_VC", "H264_BASELINE", "H264_MAIN", "H264_HIGH", "VP8"]})
AUDIO_ENCODING = _obj(["codec", "bitrate", "frequency"], bitrate=INT, frequency=INT,
                      codec={"enum": ["DEFAULT_AC", "OPUS", "AAC", "AC_MP3"]})
CONFIG = _obj(
    ["chat", "recording", "virtualBackground", "e2ee", "captions"],
    chat=TOGGLE, virtualBackground=TOGGLE, e2ee=TOGGLE, captions=TOGGLE,
    recording=_obj(["enabled"], enabled=BOOL, layout={"enum": ["grid", "speaker", "single-speaker"]},
                   encoding={"oneOf": [{"enum": list(ENCODING_PRESETS)},
                                       _obj(["video", "audio"], video=VIDEO_ENCODING, audio=AUDIO_ENCODING)]}),
)

# MeetRoomRoles
ROLES = _obj(["moderator", "speaker"], moderator=_obj(["permissions"], permissions=PERMISSIONS),
             speaker=_obj(["permissions"], permissions=PERMISSIONS))

# MeetRoomAccess: anonymous.{moderator,speaker,recording} and user, each {enabled, url}
LINK = _obj(["enabled", "url"], enabled=BOOL, url=STR)
ACCESS = _obj(["anonymous", "user"], anonymous=_obj(["moderator", "speaker", "recording"],
                                                    moderator=LINK, speaker=LINK, recording=LINK),
              user=LINK)

# MeetRoom (room.entity.ts): autoDeletionDate and autoDeletionPolicy optional, the rest always present
ROOM = _obj(
    ["roomId", "roomName", "owner", "creationDate", "config", "roles", "access", "status", "rolesUpdatedAt",
     "meetingEndAction"],
    roomId=STR, roomName=STR, owner=STR, creationDate=INT, autoDeletionDate=INT,
    autoDeletionPolicy=_obj(["withMeeting", "withRecordings"],
                            withMeeting={"enum": ["force", "when_meeting_ends", "fail"]},
                            withRecordings={"enum": ["force", "close", "fail"]}),
    config=CONFIG, roles=ROLES, access=ACCESS, status={"enum": ["open", "active_meeting", "closed"]},
    rolesUpdatedAt=INT, meetingEndAction={"enum": ["none", "close", "delete"]},
)

# shared/schemas/meet-pagination.yaml
PAGINATION = _obj(["isTruncated", "maxItems"], isTruncated=BOOL, nextPageToken={"type": ["string", "null"]},
                  maxItems=INT)
ROOM_LIST = _obj(["rooms", "pagination"], rooms={"type": "array", "items": ROOM}, pagination=PAGINATION)

SUCCESS_CODES = (
    "room_deleted", "room_with_active_meeting_deleted", "room_with_active_meeting_scheduled_to_be_deleted",
    "room_and_recordings_deleted", "room_closed", "room_with_active_meeting_and_recordings_deleted",
    "room_with_active_meeting_closed", "room_with_active_meeting_and_recordings_scheduled_to_be_deleted",
    "room_with_active_meeting_scheduled_to_be_closed",
)
# rooms/responses/success/delete-room-*.yaml
ROOM_DELETION = _obj(["successCode", "message"], successCode={"enum": list(SUCCESS_CODES)}, message=STR, room=ROOM)
# rooms/responses/success/bulk-delete-rooms.yaml (200) and errors/bulk-delete-rooms.yaml (400)
BULK_DELETE_ROOMS = _obj(
    ["message", "deleted", "failed"], message=STR,
    deleted={"type": "array", "items": _obj(["successCode", "message"], successCode={"enum": list(SUCCESS_CODES)},
                                            message=STR, room=ROOM)},
    failed={"type": "array", "items": _obj(["roomId", "error", "message"], roomId=STR, error=STR, message=STR)},
)

# MeetRoomMember (room-member.entity.ts): customPermissions optional, the rest always present
MEMBER = _obj(
    ["memberId", "roomId", "type", "name", "membershipDate", "accessUrl", "baseRole", "effectivePermissions",
     "permissionsUpdatedAt"],
    memberId=STR, roomId=STR, type={"enum": ["user", "identified_guest"]}, name=STR, membershipDate=INT,
    accessUrl=STR, baseRole={"enum": ["moderator", "speaker"]},
    customPermissions={"type": "object", "additionalProperties": BOOL,
                       "propertyNames": {"enum": list(PERMISSION_NAMES)}},
    effectivePermissions=PERMISSIONS, permissionsUpdatedAt=INT,
)
# room-members/responses/success/get-room-members.yaml
MEMBER_LIST = _obj(["members", "pagination"], members={"type": "array", "items": MEMBER}, pagination=PAGINATION)
# room-members/responses/{success,errors}/bulk-delete-room-members.yaml
BULK_DELETE_MEMBERS = _obj(["message", "deleted", "failed"], message=STR,
                           deleted={"type": "array", "items": STR},
                           failed={"type": "array", "items": _obj(["memberId", "error"], memberId=STR, error=STR)})


def check(schema: dict[str, Any], value: Any) -> Any:
    """Validate ``value`` against ``schema`` (draft 2020-12) and return it."""
    jsonschema.Draft202012Validator(schema).validate(value)
    return value
