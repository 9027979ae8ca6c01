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
    text = {400: "bad request (also: a recordingSecret that is not recognized)", 401: "missing or invalid credentials",
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
        _q("recordingKey", {"type": "string"}, "the room's recording key"),
        _q("recordingSecret", {"type": "string"}, "OpenVidu's name for the recording key; a wrong one answers 400")]
NATIVE = {"$ref": "#/components/schemas/Recording"}
WHEREBY = {"$ref": "#/components/schemas/WherebyRecording"}
MEDIA = {"type": "string", "format": "binary"}
MEDIA_TYPES = ("video/x-matroska", "video/webm", "video/mp4")
FIELDS = [_q("fields", {"type": "string"}, "comma-separated Recording fields to return (unknown names ignored)"),
          {"name": "X-Fields", "in": "header", "required": False, "schema": {"type": "string"},
           "description": "like fields; the two are merged"}]
FORMAT = _q("format", {"type": "string", "enum": ["mp4", "mkv", "matroska", "webm"]},
            "mp4: a copy of the file's packets into MP4 (no re-encoding), for H.264 video with Opus or AAC "
            "audio; VP8 answers 406. Without it the Accept header decides; the stored Matroska/WebM file "
            "is the default.")
VARIANT = _q("variant", {"type": "string", "enum": ["tracks", "composed"], "default": "tracks"},
             "tracks: the multi-track recording (the source of truth; format/Accept apply); composed: one "
             "H.264/AAC MP4 of the meeting as people saw it (409 composition_not_ready until it is)")
COMPOSITION = {
    "composition": {"type": ["string", "null"], "enum": ["pending", "ready", "failed", None],
                    "description": "ours: the composed MP4 (null: never asked)"},
    "compositionProgress": {"type": "number", "minimum": 0, "maximum": 1, "description": "ours: 0..1"}}
PLAYER = {"playerUrl": {"type": "string", "description": "ours: the same signed link opening the player page"}}
SECURED = [{"bearerAuth": []}, {"apiKeyHeader": []}, {}]  # {}: room key or signed link instead

SCHEMAS: dict[str, Any] = {
    "RecordingError": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}, "required": ["field", "message"]}}}},
    "Recording": {"type": "object", "required": ["recordingId", "roomId", "roomName", "status"], "properties": {
        "recordingId": {"type": "string"}, "roomId": {"type": "string"},
        "roomName": {"type": "string", "description": "the room's name (its id once the room is deleted)"},
        "status": {"type": "string", "enum": ["starting", "active", "ending", "complete", "failed"]},
        "filename": {"type": "string"}, "startDate": {"type": "integer"}, "endDate": {"type": ["integer", "null"]},
        "duration": {"type": "number"}, "size": {"type": "integer"},
        "error": {"type": ["string", "null"]}, "details": {"type": "string", "description": "the error, if any"},
        "roomSessionId": {"type": ["string", "null"]},
        "tracks": {"type": "array", "items": {"type": "object"}}, **COMPOSITION}},
    "RecordingDeleted": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
    "RecordingsBulkDeleted": {"type": "object", "required": ["message", "deleted", "failed"], "properties": {
        "message": {"type": "string"}, "deleted": {"type": "array", "items": {"type": "string"}},
        "failed": {"type": "array", "items": {"type": "object", "required": ["recordingId", "error"], "properties": {
            "recordingId": {"type": "string"}, "error": {"type": "string"}, "message": {"type": "string"}}}}}},
    "WherebyRecording": {"type": "object", "required": ["recordingId", "roomSessionId", "filename", "startDate",
                                                        "endDate", "sizeInMegaBytes"], "properties": {
        "recordingId": {"type": "string"}, "roomSessionId": {"type": ["string", "null"]},
        "roomName": {"type": "string"}, "filename": {"type": "string"},
        "startDate": {"type": ["string", "null"], "format": "date-time"},
        "endDate": {"type": ["string", "null"], "format": "date-time",
                    "description": "null while the file is still being written"},
        "sizeInMegaBytes": {"type": "number", "description": "file size in MB (10^6 bytes), 3 decimals"},
        "type": {"type": "string"}, "status": {"type": "string"}, "duration": {"type": "number"},
        "size": {"type": "integer", "description": "bytes"}, **COMPOSITION}},
}


def media(desc: str) -> dict[str, Any]:
    return {"description": desc, "content": {t: {"schema": MEDIA} for t in MEDIA_TYPES}}


def paths() -> dict[str, Any]:
    native_list = {
        "get": {"summary": "List recordings", "tags": ["recordings"], "security": SECURED,
                "parameters": [_q("roomId", {"type": "string"}),
                               _q("status", {"type": "string", "enum": ["starting", "active", "ending", "complete",
                                                                         "failed", "aborted", "limit_reached"]}),
                               _q("maxItems", {"type": "number", "exclusiveMinimum": 0, "default": 10},
                                  "rounded down; above 100 is taken as 100"),
                               _q("nextPageToken", {"type": "string"}),
                               _q("roomName", {"type": "string", "maxLength": 50},
                                  "the room's name (its id once the room is gone), matched as roomNameMatchMode says"),
                               _q("roomNameMatchMode", {"type": "string", "enum": ["exact", "prefix", "partial",
                                                                                   "regex"], "default": "exact"},
                                  "regex: a pattern that takes too long to match answers 422"),
                               _q("roomNameCaseInsensitive", {"type": "string", "enum": ["true", "false"],
                                                              "default": "false"}, "read without regard to case"),
                               _q("sortField", {"type": "string", "enum": ["startDate", "roomName", "duration",
                                                                           "size"], "default": "startDate"}),
                               _q("sortOrder", {"type": "string", "enum": ["asc", "desc"]}), *FIELDS, *KEYS],
                "responses": {"200": _resp("a page of recordings", {"type": "object", "properties": {
                    "recordings": {"type": "array", "items": NATIVE}, "pagination": {"type": "object", "properties": {
                        "isTruncated": {"type": "boolean"}, "nextPageToken": {"type": ["string", "null"]},
                        "maxItems": {"type": "integer"}}}}}),
                    **_errors(400, 401, 403, 422)}},
        "post": {"summary": "Start recording a live meeting", "tags": ["recordings"],
                  "parameters": FIELDS,
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["roomId"], "properties": {
                         "roomId": {"type": "string"},
                         "config": {"type": "object", "description": "checked, without effect here: tracks are "
                                    "recorded as published, not composed nor re-encoded", "properties": {
                                        "layout": {"type": "string", "enum": ["grid", "speaker", "single-speaker"]},
                                        "encoding": {"oneOf": [{"type": "string"}, {"type": "object"}]}}}}}}}},
                 "responses": {"201": _resp("recording started", NATIVE), **_errors(400, 401, 404, 409, 422)}},
        "delete": {"summary": "Delete several recordings", "tags": ["recordings"],
                   "parameters": [{**_q("recordingIds", {"type": "string"}, "comma-separated ids"),
                                   "required": True}],
                   "responses": {"200": _resp("all deleted", {"$ref": "#/components/schemas/RecordingsBulkDeleted"}),
                                 "400": _resp("some or all could not be deleted (failed says why)",
                                              {"$ref": "#/components/schemas/RecordingsBulkDeleted"}),
                                 **_errors(401, 422)}},
    }
    out: dict[str, Any] = {"/api/v1/recordings": native_list}
    out["/api/v1/recordings/download"] = {
        "get": {"summary": "Download several recordings as one ZIP (recordings.zip)", "tags": ["recordings"],
                "description": "Each finished recording goes in as MP4 where its tracks allow a remux without "
                               "re-encoding (H.264 with Opus or AAC), else as its stored Matroska/WebM file (VP8). "
                               "Ids that do not exist, are recording or have no file are left out.",
                "parameters": [{**_q("recordingIds", {"type": "string"}, "comma-separated ids"), "required": True}],
                "responses": {"200": _resp("the ZIP", MEDIA, "application/zip"),
                              "400": _resp("none of the recordings is available", ERR), **_errors(401, 422)}},
    }
    out["/api/v1/recordings/{recordingId}"] = {
        "get": {"summary": "Get a recording", "tags": ["recordings"], "security": SECURED,
                "parameters": [RID, *FIELDS, *KEYS], "responses": {"200": _resp("the recording", NATIVE),
                                                                     **_errors(400, 401, 403, 404)}},
        "delete": {"summary": "Delete a recording and its file", "tags": ["recordings"], "security": SECURED,
                   "parameters": [RID, *KEYS], "responses": {
                       "200": _resp("deleted", {"$ref": "#/components/schemas/RecordingDeleted"}),
                       **_errors(401, 403, 404, 409)}},
    }
    out["/api/v1/recordings/{recordingId}/media"] = {
        "get": {"summary": "Download the file (HTTP Range supported)", "tags": ["recordings"], "security": SECURED,
                "parameters": [RID, *KEYS, _q("expires", {"type": "string"}), _q("signature", {"type": "string"}),
                               FORMAT, VARIANT],
                "responses": {"200": media("the file"), "206": media("part of the file"),
                              **_errors(400, 401, 403, 404, 409, 416),
                              "406": _resp("MP4 asked for a recording whose tracks MP4 cannot carry without "
                                           "re-encoding (VP8), or an Accept header that admits no offered type",
                                           ERR)}},
    }
    out["/api/v1/recordings/{recordingId}/url"] = {
        "get": {"summary": "An expiring signed download link", "tags": ["recordings"], "security": SECURED,
                "parameters": [RID, *KEYS, _q("expiresIn", {"type": "integer", "minimum": 1,
                                                             "maximum": MAX_VALID_SECONDS}),
                               _q("privateAccess", {"type": "boolean"},
                                  "checked, without effect: the link is always a signed, expiring, revocable link")],
                "responses": {"200": _resp("the link", {"type": "object", "properties": {
                    "url": {"type": "string"}, "expiresAt": {"type": "integer"}, **PLAYER}}),
                    **_errors(401, 403, 404, 422)}},
        "delete": {"summary": "Revoke every signed link of the recording", "tags": ["recordings"],
                   "security": SECURED, "parameters": [RID, *KEYS],
                   "responses": {"204": _resp("revoked"), **_errors(401, 403, 404)}},
    }
    out["/api/v1/recordings/{recordingId}/stop"] = {
        "post": {"summary": "Stop a recording (finalizes the file)", "tags": ["recordings"],
                 "parameters": [RID, *FIELDS],
                 "responses": {"202": {**_resp("the recording as it stands (ending or complete)", NATIVE),
                                       "headers": {"Location": {"schema": {"type": "string"},
                                                                "description": "the recording"}}},
                               **_errors(401, 404, 409)}},
    }
    for path, schema, tag, security in (("/api/v1", NATIVE, "recordings", SECURED), ("/v1", WHEREBY, "whereby", None)):
        op = {"summary": "Compose (again) the recording into one MP4 of the meeting", "tags": [tag],
              "parameters": [RID] + (KEYS if security else []),
              "responses": {"202": _resp("composition pending (or ready as it is)", schema),
                            **_errors(*((401, 403, 404, 409) if security else (401, 404, 409)))}}
        if security:
            op["security"] = security
        out[f"{path}/recordings/{{recordingId}}/composition"] = {"post": op}
    out["/v1/recordings"] = {
        "get": {"summary": "List recordings (Whereby)", "tags": ["whereby"],
                "parameters": [_q("roomName", {"type": "string"}), _q("cursor", {"type": "string"}),
                               _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                               _q("sortBy", {"type": "string", "examples": ["roomName:asc"]},
                                  "roomName|startDate|duration|sizeInMegaBytes (size: the same), optionally "
                                  ":asc/:desc; default startDate:desc")],
                "responses": {"200": _resp("a page", {"type": "object", "properties": {
                    "results": {"type": "array", "items": WHEREBY}, "cursor": {"type": ["string", "null"]}}}),
                    **_errors(400, 401)}},
    }
    out["/v1/recordings/bulk-delete"] = {
        "post": {"summary": "Delete several recordings (Whereby)", "tags": ["whereby"],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["recordingIds"],
                     "properties": {"recordingIds": {"type": "array", "items": {"type": "string"}}}}}}},
                 "responses": {"204": _resp("deleted; ids that do not exist (any more) are ignored"),
                               "409": _resp("some are still being written: they were kept (details name "
                                            "them), the others deleted", ERR),
                               **_errors(400, 401)}},
    }
    out["/v1/recordings/{recordingId}"] = {
        "get": {"summary": "Get a recording (Whereby)", "tags": ["whereby"], "parameters": [RID],
                "responses": {"200": _resp("the recording", WHEREBY), **_errors(401, 404)}},
        "delete": {"summary": "Delete a recording (Whereby)", "tags": ["whereby"], "parameters": [RID],
                   "responses": {"204": _resp("deleted, or did not exist (idempotent)"),
                                 **_errors(401, 409)}},
    }
    out["/v1/recordings/{recordingId}/access-link"] = {
        "get": {"summary": "An expiring access link (Whereby)", "tags": ["whereby"],
                "parameters": [RID, _q("validForSeconds", {"type": "integer", "minimum": 1,
                                                             "maximum": MAX_VALID_SECONDS})],
                "responses": {"200": _resp("the link", {"type": "object", "properties": {
                    "accessLink": {"type": "string"}, "expires": {"type": "integer"}, **PLAYER}}),
                    **_errors(400, 401, 404)}},
    }
    out["/v1/recordings/{recordingId}/media"] = {
        "get": {"summary": "Download the file (Whereby; HTTP Range supported)", "tags": ["whereby"],
                "parameters": [RID, FORMAT, VARIANT], "responses": {
                    "200": media("the file"), "206": media("part of the file"), **_errors(401, 404, 409, 416),
                    "406": _resp("MP4 impossible without re-encoding (VP8), or no acceptable type", ERR)}},
    }
    for path, item in out.items():   # any operation may refuse text (see the document's description)
        status = "400" if path.startswith("/v1/") else "422"
        for op in item.values():
            op["responses"].setdefault(status, _resp("text that is not acceptable; details name the field", ERR))
    return out


def setup(app: web.Application) -> None:
    add_paths(app, paths(), SCHEMAS)
