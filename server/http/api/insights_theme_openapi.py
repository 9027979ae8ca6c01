"""OpenAPI paths of the Whereby v1 insights and room theme routes (insights_whereby.py,
theme_whereby.py), added to /api/openapi.json through openapi.add_paths."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.rooms.theme import IMAGES
from .insights_whereby import ROOM_SORTS, SESSION_SORTS
from .openapi import add_paths

ERR = {"$ref": "#/components/schemas/Error"}
STR, INT = {"type": "string"}, {"type": "integer", "minimum": 0}
NULLABLE = {"type": ["string", "null"]}
INSIGHTS, THEME = "Whereby-compatible insights", "Whereby-compatible room theme"


def _q(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _errors(*pairs: tuple[int, str]) -> dict[str, Any]:
    base = {400: "bad input; details name the parameter", 401: "missing or invalid key"}
    return {str(s): {"description": base.get(s, d) or d, "content": {"application/json": {"schema": ERR}}}
            for s, d in pairs}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"description": "a page; cursor is null on the last page", "content": {"application/json": {"schema": {
        "type": "object", "required": ["results", "cursor"],
        "properties": {"results": {"type": "array", "items": item}, "cursor": NULLABLE}}}}}


def _obj(strings: tuple[str, ...], ints: tuple[str, ...]) -> dict[str, Any]:
    props = {**{s: NULLABLE for s in strings}, **{i: INT for i in ints}}
    return {"type": "object", "required": [*strings, *ints], "properties": props}


TOTALS = ("totalParticipantMinutes", "totalRecorderMinutes", "totalStreamerMinutes", "totalUniqueParticipants",
          "totalUniqueRecorders", "totalUniqueStreamers")
PAGING = [_q("cursor", STR), _q("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10})]


def _sort(fields: tuple[str, ...]) -> dict[str, Any]:
    return _q("sortBy", {"type": "string", "pattern": f"^({'|'.join(fields)})(:(asc|desc))?$"})


def paths() -> dict[str, Any]:
    room = _obj(("roomName", "createdAt", "endAt", "firstSessionStartedAt", "lastSessionStartedAt"),
                (*TOTALS, "totalSessions"))
    session = _obj(("roomSessionId", "roomName", "createdAt", "endAt"), TOTALS)
    person = _obj(("roomSessionId", "participantId", "deviceId", "userId", "roleName", "displayName", "joinedAt",
                   "leftAt", "externalId"), ())
    out: dict[str, Any] = {
        "/v1/insights/rooms": {"get": {
            "operationId": "insightsRooms", "summary": "Usage of the rooms created through /v1", "tags": [INSIGHTS],
            "parameters": [_q("roomName[exact]", STR), _q("roomName[startsWith]", STR), _q("roomName[contains]", STR),
                           _q("createdAt[from]", {"type": "string", "format": "date-time"}),
                           _q("createdAt[to]", {"type": "string", "format": "date-time"}), _sort(ROOM_SORTS), *PAGING],
            "responses": {"200": _page(room), **_errors((400, ""), (401, ""))}}},
        "/v1/insights/room-sessions": {"get": {
            "operationId": "insightsRoomSessions", "summary": "Usage of each meeting of a room", "tags": [INSIGHTS],
            "parameters": [_q("roomName", STR, True), _q("roomSessionId", STR), _sort(SESSION_SORTS), *PAGING],
            "responses": {"200": _page(session), **_errors((400, ""), (401, ""))}}},
        "/v1/insights/participants": {"get": {
            "operationId": "insightsParticipants", "summary": "The participants of a meeting", "tags": [INSIGHTS],
            "parameters": [_q("roomSessionId", STR), _q("externalId", STR), _sort(("joinedAt", "leftAt")), *PAGING],
            "responses": {"200": _page(person), **_errors(
                (400, ""), (401, ""), (403, "external_id_not_supported: no external ids here"))}}},
        "/v1/insights/participant": {"get": {
            "operationId": "insightsParticipant", "summary": "Not offered: no user agents or network samples here",
            "tags": [INSIGHTS], "parameters": [_q("roomSessionId", STR, True), _q("participantId", STR, True)],
            "responses": _errors((400, ""), (401, ""), (403, "participant_samples_not_supported"))}},
    }
    name = {"name": "roomName", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    saved = {"204": {"description": "saved"}}
    out["/v1/rooms/{roomName}/theme"] = {"parameters": [name], "get": {
        "operationId": "getRoomTheme", "summary": "The room's stored theme (Antechamber's own)", "tags": [THEME],
        "responses": {"200": {"description": "the theme", "content": {"application/json": {"schema": {
            "type": "object"}}}}, **_errors((401, ""), (404, "no such room"))}}}
    out["/v1/rooms/{roomName}/theme/tokens"] = {"parameters": [name], "put": {
        "operationId": "putRoomThemeTokens", "summary": "Set the room's colours", "tags": [THEME],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "tokens": {"type": "object"}, "tokensPreset": {"enum": ["custom", "default"]}}}}}},
        "responses": {**saved, **_errors((400, ""), (401, ""), (404, "no such room"))}}}
    for kind in IMAGES:
        out[f"/v1/rooms/{{roomName}}/theme/{kind}"] = {"parameters": [name], "put": {
            "operationId": f"putRoomTheme_{kind}", "summary": f"Upload the room's {kind} (PNG or JPEG, 600 KB) "
            "or set a preset", "tags": [THEME],
            "requestBody": {"content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    "image": {"type": "string", "format": "binary"}}}},
                "application/json": {"schema": {"type": "object"}}}},
            "responses": {**saved, **_errors((400, "invalid_content_type, unsupported_image_type or a bad preset"),
                                             (401, ""), (404, "no such room"), (413, "image_too_large"))}},
            "get": {"operationId": f"getRoomTheme_{kind}", "summary": f"The uploaded {kind} (Antechamber's own)",
                    "tags": [THEME], "responses": {
                        "200": {"description": "the image", "content": {"image/png": {}, "image/jpeg": {}}},
                        **_errors((401, ""), (404, "no such room or no image uploaded"))}}}
    return out


def setup(app: web.Application) -> None:
    add_paths(app, paths())
