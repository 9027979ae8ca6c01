"""OpenAPI description of the recordings routes (native /api/v1 and Whereby /v1)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.access.signed_links import MAX_VALID_SECONDS
from .openapi import add_paths

ERR = {"$ref": "#/components/schemas/RecordingError"}


def _resp(desc: str, schema: Any = None, content_type: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": desc}
    if schema is not None:
        out["content"] = {content_type: {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad request", 401: "missing or invalid credentials",
            403: "credentials do not allow this; a room key or signed link also gets this for a recording "
                 "that does not exist (same code and message)",
            404: "not found (whether a recording exists is told only to the API key holder)",
            409: "the recording is active / not active", 416: "range not satisfiable",
            422: "invalid parameter"}
    return {str(c): _resp(text[c], ERR) for c in codes}


def _q(name: str, schema: dict[str, Any], desc: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


RID = {"name": "recordingId", "in": "path", "required": True, "schema": {"type": "string"}}
KEYS = [_q("roomKey", {"type": "string"}, "host key or moderator member key of the recording's room"),
        _q("recordingKey", {"type": "string"}, "the room's recording key")]
NATIVE = {"$ref": "#/components/schemas/Recording"}
WHEREBY = {"$ref": "#/components/schemas/WherebyRecording"}
MEDIA = {"type": "string", "format": "binary"}
SECURED = [{"bearerAuth": []}, {"apiKeyHeader": []}, {}]  # {}: room key or signed link instead

SCHEMAS: dict[str, Any] = {
    "RecordingError": {"type": "object", "properties": {
        "error": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}, "required": ["field", "message"]}}}},
    "Recording": {"type": "object", "properties": {
        "recordingId": {"type": "string"}, "roomId": {"type": "string"},
        "roomSessionId": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["starting", "active", "ending", "complete", "failed"]},
        "filename": {"type": "string"}, "startDate": {"type": "integer"}, "endDate": {"type": ["integer", "null"]},
        "duration": {"type": "number"}, "size": {"type": "integer"},
        "tracks": {"type": "array", "items": {"type": "object"}}, "error": {"type": ["string", "null"]}}},
    "WherebyRecording": {"type": "object", "properties": {
        "recordingId": {"type": "string"}, "roomSessionId": {"type": ["string", "null"]},
        "roomName": {"type": "string"}, "filename": {"type": "string"},
        "startDate": {"type": ["string", "null"], "format": "date-time"},
        "endDate": {"type": ["string", "null"], "format": "date-time"}, "type": {"type": "string"},
        "status": {"type": "string"}, "duration": {"type": "number"}, "size": {"type": "integer"}}},
}


def paths() -> dict[str, Any]:
    native_list = {
        "get": {"summary": "List recordings", "tags": ["recordings"], "security": SECURED,
                "parameters": [_q("roomId", {"type": "string"}),
                               _q("status", {"type": "string", "enum": ["starting", "active", "ending", "complete",
                                                                         "failed"]}),
                               _q("maxItems", {"type": "integer", "minimum": 1, "maximum": 100}),
                               _q("nextPageToken", {"type": "string"}),
                               _q("sortField", {"type": "string", "enum": ["startDate", "duration", "size"]}),
                               _q("sortOrder", {"type": "string", "enum": ["asc", "desc"]}), *KEYS],
                "responses": {"200": _resp("a page of recordings", {"type": "object", "properties": {
                    "recordings": {"type": "array", "items": NATIVE}, "pagination": {"type": "object"}}}),
                    **_errors(400, 401, 403, 422)}},
        "post": {"summary": "Start recording a live meeting", "tags": ["recordings"],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["roomId"], "properties": {"roomId": {"type": "string"}}}}}},
                 "responses": {"201": _resp("recording started", NATIVE), **_errors(400, 401, 404, 409, 422)}},
        "delete": {"summary": "Delete several recordings", "tags": ["recordings"],
                   "parameters": [{**_q("recordingIds", {"type": "string"}, "comma-separated ids"),
                                   "required": True}],
                   "responses": {"204": _resp("all deleted"), "200": _resp("some could not be deleted"),
                                 **_errors(401, 422)}},
    }
    out: dict[str, Any] = {"/api/v1/recordings": native_list}
    out["/api/v1/recordings/{recordingId}"] = {
        "get": {"summary": "Get a recording", "tags": ["recordings"], "security": SECURED,
                "parameters": [RID, *KEYS], "responses": {"200": _resp("the recording", NATIVE),
                                                           **_errors(401, 403, 404)}},
        "delete": {"summary": "Delete a recording and its file", "tags": ["recordings"], "security": SECURED,
                   "parameters": [RID, *KEYS], "responses": {"204": _resp("deleted"),
                                                              **_errors(401, 403, 404, 409)}},
    }
    out["/api/v1/recordings/{recordingId}/media"] = {
        "get": {"summary": "Download the file (HTTP Range supported)", "tags": ["recordings"], "security": SECURED,
                "parameters": [RID, *KEYS, _q("expires", {"type": "string"}), _q("signature", {"type": "string"})],
                "responses": {"200": _resp("the file", MEDIA, "video/x-matroska"),
                              "206": _resp("part of the file", MEDIA, "video/x-matroska"),
                              **_errors(401, 403, 404, 409, 416)}},
    }
    out["/api/v1/recordings/{recordingId}/url"] = {
        "get": {"summary": "An expiring signed download link", "tags": ["recordings"], "security": SECURED,
                "parameters": [RID, *KEYS, _q("expiresIn", {"type": "integer", "minimum": 1,
                                                             "maximum": MAX_VALID_SECONDS})],
                "responses": {"200": _resp("the link", {"type": "object", "properties": {
                    "url": {"type": "string"}, "expiresAt": {"type": "integer"}}}), **_errors(401, 403, 404, 422)}},
        "delete": {"summary": "Revoke every signed link of the recording", "tags": ["recordings"],
                   "security": SECURED, "parameters": [RID, *KEYS],
                   "responses": {"204": _resp("revoked"), **_errors(401, 403, 404)}},
    }
    out["/api/v1/recordings/{recordingId}/stop"] = {
        "post": {"summary": "Stop a recording (finalizes the file)", "tags": ["recordings"], "parameters": [RID],
                 "responses": {"200": _resp("the finished recording", NATIVE), **_errors(401, 404, 409)}},
    }
    out["/v1/recordings"] = {
        "get": {"summary": "List recordings (Whereby)", "tags": ["whereby"],
                "parameters": [_q("roomName", {"type": "string"}), _q("cursor", {"type": "string"}),
                               _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                               _q("sortBy", {"type": "string"}, "startDate|duration|size, optionally :asc/:desc")],
                "responses": {"200": _resp("a page", {"type": "object", "properties": {
                    "results": {"type": "array", "items": WHEREBY}, "cursor": {"type": ["string", "null"]}}}),
                    **_errors(400, 401)}},
    }
    out["/v1/recordings/bulk-delete"] = {
        "post": {"summary": "Delete several recordings (Whereby)", "tags": ["whereby"],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["recordingIds"],
                     "properties": {"recordingIds": {"type": "array", "items": {"type": "string"}}}}}}},
                 "responses": {"204": _resp("all deleted"), "200": _resp("some could not be deleted"),
                               **_errors(400, 401)}},
    }
    out["/v1/recordings/{recordingId}"] = {
        "get": {"summary": "Get a recording (Whereby)", "tags": ["whereby"], "parameters": [RID],
                "responses": {"200": _resp("the recording", WHEREBY), **_errors(401, 404)}},
        "delete": {"summary": "Delete a recording (Whereby)", "tags": ["whereby"], "parameters": [RID],
                   "responses": {"204": _resp("deleted"), **_errors(401, 404, 409)}},
    }
    out["/v1/recordings/{recordingId}/access-link"] = {
        "get": {"summary": "An expiring access link (Whereby)", "tags": ["whereby"],
                "parameters": [RID, _q("validForSeconds", {"type": "integer", "minimum": 1,
                                                             "maximum": MAX_VALID_SECONDS})],
                "responses": {"200": _resp("the link", {"type": "object", "properties": {
                    "accessLink": {"type": "string"}, "expires": {"type": "integer"}}}), **_errors(400, 401, 404)}},
    }
    out["/v1/recordings/{recordingId}/media"] = {
        "get": {"summary": "Download the file (Whereby; HTTP Range supported)", "tags": ["whereby"],
                "parameters": [RID], "responses": {"200": _resp("the file", MEDIA, "video/x-matroska"),
                                                    **_errors(401, 404, 409, 416)}},
    }
    for path, item in out.items():   # any operation may refuse text (see the document's description)
        status = "400" if path.startswith("/v1/") else "422"
        for op in item.values():
            op["responses"].setdefault(status, _resp("text that is not acceptable; details name the field", ERR))
    return out


def setup(app: web.Application) -> None:
    add_paths(app, paths(), SCHEMAS)
