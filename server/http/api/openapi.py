"""OpenAPI 3.1 document for both REST surfaces, served at /api/openapi.json.

Request body schemas are generated from the pydantic models that validate the
requests (server/http/api/schemas.py), so the document cannot drift from what the
server accepts; paths are written here by hand, response shapes in openapi_responses.py.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from . import members, schemas, whereby
from .native_rooms import MEETING_PREFIXES, PREFIXES
from .openapi_responses import response_schemas

REF = "#/components/schemas/{model}"

_REQUEST_MODELS = (
    schemas.CreateRoomIn, schemas.UpdateConfigIn, schemas.UpdateRolesIn, schemas.UpdateAccessIn,
    schemas.UpdateStatusIn, schemas.UpdateLockIn, whereby.CreateMeetingIn,
    members.CreateMemberIn, members.UpdateMemberIn, schemas.MeetingTimingIn, schemas.ExtendMeetingIn,
)

ERROR_CODES = (
    "room_has_active_meeting", "room_has_recordings", "room_with_active_meeting_has_recordings",
    "room_with_active_meeting_has_recordings_cannot_schedule_deletion", "room_with_recordings_has_active_meeting",
)


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _resp(description: str, ref: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if ref:
        out["content"] = _json(ref)
    return out


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "malformed JSON, duplicate keys or bad parameter", 401: "missing or invalid API key",
            404: "no such room", 409: "conflict: " + ", ".join(ERROR_CODES), 413: "body larger than the limit",
            422: "wrong type, unknown field or text that is not acceptable; details name each field"}
    return {str(s): _resp(text[s], "Error") for s in statuses}


TEXT_RULES = ("Text: every string in a request body (object keys too, at any depth), every path and query "
              "parameter and the credential headers must be UTF-8 Unicode text without lone surrogates, "
              "control characters (C0, DEL, C1, U+2028/U+2029), bidirectional embedding/override/isolate "
              "controls (U+202A-U+202E, U+2066-U+2069) or noncharacters; otherwise the native API answers "
              "422 and the Whereby-compatible one 400, code validation_error, details naming the field. "
              "Refused text is never stored, logged or repeated in the answer.")


def _with_text_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation may refuse text: 400 on /v1 (Whereby), 422 on the native API."""
    for path, item in paths.items():
        status = "400" if path.startswith("/v1/") else "422"
        for method, op in item.items():
            if method != "parameters":
                op["responses"].setdefault(status, _resp(
                    "text that is not acceptable; details name the field", "Error"))
    return paths


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_ROOM_ID = {"name": "roomId", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_MEMBER_ID = {"name": "memberId", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_APPLY_LIVE = {"name": "applyLive", "in": "query", "required": False, "schema": {"enum": ["true", "false"]},
               "description": "Antechamber's opt-in: apply the change to a running meeting at once"}
_MEETING_ID = {"name": "meetingId", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_POLICIES = [
    _query("withMeeting", {"enum": ["force", "when_meeting_ends", "fail"], "default": "fail"}),
    _query("withRecordings", {"enum": ["force", "close", "fail"], "default": "fail"}),
]


def _projection(base: str, extra: str) -> list[dict[str, Any]]:
    """OpenVidu Meet 3.8's response projection: fields ∪ X-Fields, extraFields ∪ X-ExtraFields."""
    text = ("comma-separated top-level names to keep ({}); unknown names and extra fields are ignored; "
            "none valid: the whole object").format(base)
    extra_text = f"comma-separated ({extra}); added to the names kept by fields"
    return [_query("fields", {"type": "string"}, text), _query("extraFields", {"type": "string"}, extra_text),
            {"name": "X-Fields", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "same as fields, united with it"},
            {"name": "X-ExtraFields", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "same as extraFields, united with it"}]


_ROOM_FIELDS = _projection("roomId, roomName, owner, creationDate, access, status, rolesUpdatedAt, "
                           "meetingEndAction, autoDeletionDate, autoDeletionPolicy", "config, roles")
_ROOM_NAME_FILTER = [
    _query("roomName", {"type": "string", "maxLength": 50}, "matched as roomNameMatchMode says"),
    _query("roomNameMatchMode", {"enum": ["exact", "prefix", "partial", "regex"], "default": "exact"},
           "regex: a pattern that takes too long to match answers 422"),
    _query("roomNameCaseInsensitive", {"enum": ["true", "false"], "default": "false"}, "read without regard to case"),
]
_MEMBER_FIELDS = _projection("memberId, roomId, type, name, membershipDate, accessUrl, baseRole, "
                             "customPermissions, permissionsUpdatedAt", "effectivePermissions")


def _body(ref: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": _json(ref)}


def _native_paths(prefix: str, tag: str) -> dict[str, Any]:
    def op(op_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        suffix = "" if prefix == "/api/v1" else "Meet"
        return {"operationId": op_id + suffix, "summary": summary, "tags": [tag], "responses": responses, **extra}

    def put(name: str, model: str, answer: str = "RoomUpdate") -> dict[str, Any]:
        if name == "Lock":
            return {"parameters": [_ROOM_ID], "put": op(
                f"update{name}", f"Update the room's {name.lower()}; live meetings are told",
                {"200": _resp("updated", answer), **_errors(400, 401, 404, 413, 422)}, requestBody=_body(model))}
        during = ("202: closing during a meeting is scheduled for its end (meetingEndAction close)"
                  if name == "Status" else "409 room_active_meeting during a meeting (OpenVidu Meet 3.8)")
        extra = {"202": _resp("scheduled: closes when the meeting ends", answer)} if name == "Status" else {
            "409": _resp("room_active_meeting: a meeting is running (applyLive=true applies it live)", "Error")}
        return {"parameters": [_ROOM_ID, _APPLY_LIVE], "put": op(
            f"update{name}", f"Update the room's {name.lower()}; {during}; with applyLive=true at once, "
            "live meetings told", {"200": _resp("updated", answer), **extra, **_errors(400, 401, 404, 413, 422)},
            requestBody=_body(model))}

    rooms = f"{prefix}/rooms"
    return {
        rooms: {
            "post": op("createRoom", "Create a room",
                       {"201": _resp("created", "Room"), **_errors(400, 401, 413, 422)},
                       requestBody=_body("CreateRoomIn", required=False), parameters=_ROOM_FIELDS),
            "get": op("listRooms", "List rooms", {"200": _resp("a page of rooms", "RoomList"),
                                                  **_errors(400, 401, 422)},
                      parameters=[
                          *_ROOM_NAME_FILTER,
                          _query("status", {"enum": ["open", "active_meeting", "closed"]}),
                          _query("maxItems", {"type": "integer", "minimum": 1, "default": 10},
                                 "above 100 is clamped to 100"),
                          _query("nextPageToken", {"type": "string"}),
                          _query("sortField", {"enum": ["creationDate", "roomName", "autoDeletionDate"],
                                               "default": "creationDate"}),
                          _query("sortOrder", {"enum": ["asc", "desc"], "default": "desc"}), *_ROOM_FIELDS]),
            "delete": op("bulkDeleteRooms", "Delete several rooms; 400 lists the ones that failed",
                         {"200": _resp("all processed", "BulkDeletion"),
                          "400": _resp("some failed", "BulkDeletion"), **_errors(401, 422)},
                         parameters=[{"name": "roomIds", "in": "query", "required": True,
                                      "schema": {"type": "string"}, "description": "comma-separated"},
                                     *_POLICIES, *_ROOM_FIELDS]),
        },
        rooms + "/{roomId}": {
            "parameters": [_ROOM_ID],
            "get": op("getRoom", "Get a room", {"200": _resp("the room", "Room"), **_errors(401, 404, 422)},
                      parameters=_ROOM_FIELDS),
            "delete": op("deleteRoom", "Delete a room following the meeting and recording policies",
                         {"200": _resp("done", "RoomDeletion"), "202": _resp("scheduled", "RoomDeletion"),
                          **_errors(401, 404, 409, 422)}, parameters=[*_POLICIES, *_ROOM_FIELDS]),
        },
        rooms + "/{roomId}/config": {
            "parameters": [_ROOM_ID],
            "get": op("getRoomConfig", "Get the room's config",
                      {"200": {"description": "config", "content": {"application/json": {
                          "schema": {"type": "object"}}}}, **_errors(401, 404, 422)}),
            "put": {**put("Config", "UpdateConfigIn", "RoomConfig")["put"], "parameters": [_APPLY_LIVE]},
        },
        rooms + "/{roomId}/members": {
            "parameters": [_ROOM_ID],
            "post": op("createMember", "Add a member with a personal access link",
                       {"201": _resp("created", "Member"), **_errors(400, 401, 404, 413, 422)},
                       requestBody=_body("CreateMemberIn"), parameters=_MEMBER_FIELDS),
            "get": op("listMembers", "List the room's members, filtered, sorted and paged",
                      {"200": _resp("a page of members", "MemberList"), **_errors(400, 401, 404, 422)},
                      parameters=[
                          _query("name", {"type": "string", "maxLength": 100}),
                          _query("nameMatchMode", {"enum": ["exact", "prefix", "partial", "regex"],
                                                   "default": "exact"}),
                          _query("nameCaseInsensitive", {"enum": ["true", "false"], "default": "false"}),
                          _query("baseRole", {"enum": ["moderator", "speaker"]}),
                          _query("type", {"enum": ["user", "identified_guest"]}),
                          _query("maxItems", {"type": "integer", "minimum": 1, "default": 10},
                                 "above 100 is clamped to 100"),
                          _query("nextPageToken", {"type": "string"}),
                          _query("sortField", {"enum": ["name", "membershipDate"], "default": "membershipDate"}),
                          _query("sortOrder", {"enum": ["asc", "desc"], "default": "desc"}), *_MEMBER_FIELDS]),
            "delete": op("bulkDeleteMembers", "Delete several members; 400 lists the ones that failed",
                         {"200": _resp("all deleted", "MemberBulkDeletion"),
                          "400": _resp("some failed", "MemberBulkDeletion"), **_errors(401, 404, 422)},
                         parameters=[{"name": "memberIds", "in": "query", "required": True,
                                      "schema": {"type": "string"}, "description": "comma-separated"}]),
        },
        rooms + "/{roomId}/members/{memberId}": {
            "parameters": [_ROOM_ID, _MEMBER_ID],
            "get": op("getMember", "Get a member", {"200": _resp("the member", "Member"), **_errors(401, 404)},
                      parameters=_MEMBER_FIELDS),
            "put": op("updateMember", "Change a member's name, base role or custom permissions",
                      {"200": _resp("updated", "Member"), **_errors(400, 401, 404, 413, 422)},
                      requestBody=_body("UpdateMemberIn"), parameters=_MEMBER_FIELDS),
            "delete": op("deleteMember", "Delete a member: its link stops working and it leaves a live meeting",
                         {"200": _resp("deleted", "Message"), **_errors(401, 404)}),
        },
        rooms + "/{roomId}/rotate-keys": {
            "parameters": [_ROOM_ID],
            "post": op("rotateRoomKeys", "Rotate the room's keys: host, viewer and recording links issued so far "
                       "stop working; the answer carries the new links",
                       {"200": _resp("rotated", "RoomUpdate"), **_errors(401, 404, 422)}),
        },
        rooms + "/{roomId}/roles": put("Roles", "UpdateRolesIn", "RoomRoles"),
        rooms + "/{roomId}/access": put("Access", "UpdateAccessIn", "RoomAccess"),
        rooms + "/{roomId}/status": {**(status := put("Status", "UpdateStatusIn", "Room")),
                                     "put": {**status["put"], "parameters": _ROOM_FIELDS}},
        rooms + "/{roomId}/lock": put("Lock", "UpdateLockIn"),
    }


def _whereby_paths() -> dict[str, Any]:
    tag = "Whereby-compatible meetings"
    bad = {"400": _resp("bad input (also text that is not acceptable); details name the field", "Error"),
           "401": _resp("missing or invalid key", "Error")}
    fields = _query("fields", {"type": "string"}, "comma-separated: hostRoomUrl, viewerRoomUrl")
    return {
        "/v1/meetings": {
            "post": {"operationId": "createMeeting", "summary": "Create a meeting (a room with an end date)",
                     "tags": [tag], "requestBody": _body("CreateMeetingIn"),
                     "responses": {"201": _resp("created (viewerMode: hostRoomUrl and viewerRoomUrl always "
                                                "included)", "Meeting"), **bad, **_errors(413),
                                   "403": _resp("an option this server cannot offer; code names it: "
                                                "s3_destination_not_supported, mp4_recording_not_supported, "
                                                "transcription_not_supported, streaming_not_supported", "Error")}},
            "get": {"operationId": "listMeetings", "summary": "List meetings created through /v1", "tags": [tag],
                    "parameters": [_query("cursor", {"type": "string"}),
                                   _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
                                   fields],
                    "responses": {"200": _resp("a page; cursor is null on the last page", "MeetingList"), **bad}},
        },
        "/v1/meetings/{meetingId}": {
            "parameters": [_MEETING_ID],
            "get": {"operationId": "getMeeting", "summary": "Get a meeting", "tags": [tag], "parameters": [fields],
                    "responses": {"200": _resp("the meeting", "Meeting"), **bad,
                                  "404": _resp("no such meeting", "Error")}},
            "delete": {"operationId": "deleteMeeting", "tags": [tag],
                       "summary": "Delete a meeting (idempotent; ends a live meeting; a room with recordings is "
                                  "closed instead)",
                       "responses": {"204": {"description": "deleted (or did not exist)"}, **bad}},
        },
    }


def _meeting_paths(prefix: str) -> dict[str, Any]:
    """OpenVidu Meet's meetings endpoints (its internal API, /meet/internal-api/v1), here behind the API key."""
    tag = "Meetings"
    suffix = {"/api/v1": "", "/meet/api/v1": "Meet"}.get(prefix, "MeetInternal")
    identity = {"name": "participantIdentity", "in": "path", "required": True,
                "schema": {"type": "string", "minLength": 1}, "description": "the participant's participantId"}
    not_found = _resp("no such room, or the participant is not in its meeting here", "Error")
    base = f"{prefix}/meetings/{{roomId}}"
    return {
        base: {"parameters": [_ROOM_ID], "delete": {
            "operationId": "endMeeting" + suffix, "summary": "End the room's meeting (idempotent)", "tags": [tag],
            "responses": {"200": _resp("ended, or none was running", "Message"), **_errors(401, 404, 422)}}},
        base + "/participants/{participantIdentity}": {"parameters": [_ROOM_ID, identity], "delete": {
            "operationId": "kickParticipant" + suffix, "summary": "Remove a participant from the meeting",
            "tags": [tag], "responses": {"200": _resp("kicked", "Message"), "404": not_found, **_errors(401, 422)}}},
        base + "/participants/{participantIdentity}/role": {"parameters": [_ROOM_ID, identity], "put": {
            "operationId": "updateParticipantRole" + suffix, "tags": [tag],
            "summary": "upgrade: host (moderator) for this meeting; downgrade: guest",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["action"], "additionalProperties": False,
                "properties": {"action": {"enum": ["upgrade", "downgrade"]}}}}}},
            "responses": {"200": _resp("applied", "Message"), "404": not_found,
                          "409": _resp("participant_role_conflict: it has that standing already", "Error"),
                          **_errors(400, 401, 413, 422)}}},
    }


def build_spec() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in _REQUEST_MODELS], ref_template=REF)
    components = dict(defs.get("$defs", {}))
    components.update(response_schemas())
    paths: dict[str, Any] = {}
    for prefix in PREFIXES:
        tag = "Rooms" if prefix == "/api/v1" else "Rooms (OpenVidu Meet base path)"
        paths.update(_with_text_errors(_native_paths(prefix, tag)))
    for prefix in MEETING_PREFIXES:
        paths.update(_with_text_errors(_meeting_paths(prefix)))
    paths.update(_with_text_errors(_whereby_paths()))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Antechamber REST API", "version": "1.0.0",
                 "description": "Native rooms API shaped like OpenVidu Meet 3.8 (at /api/v1 and /meet/api/v1) "
                                "and a Whereby-compatible meetings API (at /v1). Times are epoch milliseconds "
                                "in the native API and ISO 8601 UTC in the Whereby one. " + TEXT_RULES},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
            },
            "schemas": components,
        },
        "paths": paths,
    }


OPENAPI_EXTRA = web.AppKey("openapi_extra", list)


def add_paths(app: web.Application, paths: dict[str, Any], schemas: dict[str, Any] | None = None,
              webhooks: dict[str, Any] | None = None) -> None:
    """Let another module document its routes (call from its setup, before the app starts).

    ``paths`` are OpenAPI path items; ``schemas`` go into components/schemas; ``webhooks`` into the
    document's top-level ``webhooks`` (OpenAPI 3.1: requests the server sends).
    """
    if OPENAPI_EXTRA not in app:
        app[OPENAPI_EXTRA] = []
    app[OPENAPI_EXTRA].append((paths, schemas or {}, webhooks or {}))


def setup(app: web.Application) -> None:
    cached: list[str] = []

    async def openapi_json(request: web.Request) -> web.Response:
        if not cached:   # built on first use, after every module has added its paths
            spec = build_spec()
            for paths, extra_schemas, webhooks in request.app.get(OPENAPI_EXTRA, []):
                spec["paths"].update(paths)
                spec["components"]["schemas"].update(extra_schemas)
                if webhooks:
                    spec.setdefault("webhooks", {}).update(webhooks)
            cached.append(json.dumps(spec))
        return web.Response(text=cached[0], content_type="application/json")

    app.router.add_get("/api/openapi.json", openapi_json)
