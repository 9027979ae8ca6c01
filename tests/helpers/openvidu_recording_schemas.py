"""JSON schemas of OpenVidu Meet 3.8's recordings answers, written from its published spec
(OpenVidu/openvidu-meet v3.8.0, meet-ce/backend/openapi/recordings/ and shared/) and its
TypeScript types (meet-ce/typings/src/database/recording.entity.ts), which say which fields
are always present: recordingId, roomId, roomName, status. Extra fields of ours are allowed,
as they are for an OpenVidu client.
"""

from __future__ import annotations

from typing import Any

import jsonschema

NUMBER_OR_NULL = {"type": ["number", "null"]}
STRING_OR_NULL = {"type": ["string", "null"]}

# shared/schemas/error.yaml
ERROR: dict[str, Any] = {
    "type": "object", "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}

# recordings/schemas/meet-recording.yaml + MeetRecordingInfo's required members
RECORDING: dict[str, Any] = {
    "type": "object",
    "required": ["recordingId", "roomId", "roomName", "status"],
    "properties": {
        "recordingId": {"type": "string", "minLength": 1},
        "roomId": {"type": "string", "minLength": 1},
        "roomName": {"type": "string"},
        "status": {"enum": ["starting", "active", "ending", "complete", "failed", "aborted", "limit_reached"]},
        "layout": {"enum": ["grid", "speaker", "single-speaker"]},
        "encoding": {"oneOf": [
            {"enum": ["H264_720P_30", "H264_720P_60", "H264_1080P_30", "H264_1080P_60", "PORTRAIT_H264_720P_30",
                      "PORTRAIT_H264_720P_60", "PORTRAIT_H264_1080P_30", "PORTRAIT_H264_1080P_60"]},
            {"type": "object", "properties": {"video": {"type": "object"}, "audio": {"type": "object"}}},
        ]},
        "filename": {"type": "string"},
        "startDate": NUMBER_OR_NULL, "endDate": NUMBER_OR_NULL, "duration": NUMBER_OR_NULL,
        "size": NUMBER_OR_NULL, "errorCode": NUMBER_OR_NULL, "error": STRING_OR_NULL, "details": STRING_OR_NULL,
    },
}

# recording-base.yaml adds filename and startDate to the required list (start answers)
STARTED: dict[str, Any] = {**RECORDING, "required": RECORDING["required"] + ["filename", "startDate"]}

# shared/schemas/meet-pagination.yaml (the backend always sends isTruncated and maxItems)
PAGINATION: dict[str, Any] = {
    "type": "object", "required": ["isTruncated", "maxItems"],
    "properties": {"isTruncated": {"type": "boolean"}, "nextPageToken": STRING_OR_NULL,
                   "maxItems": {"type": "integer", "minimum": 1, "maximum": 100}},
}

# responses/success/get-recordings.yaml
RECORDING_LIST: dict[str, Any] = {
    "type": "object", "required": ["recordings", "pagination"],
    "properties": {"recordings": {"type": "array", "items": RECORDING}, "pagination": PAGINATION},
}

# responses/success/delete-recording.yaml
DELETED: dict[str, Any] = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}

_FAILED_ITEM = {"type": "object", "required": ["recordingId", "error"],
                "properties": {"recordingId": {"type": "string"}, "error": {"type": "string"},
                               "message": {"type": "string"}}}

# responses/success/bulk-delete-recordings.yaml: `failed` always present, empty when all went
BULK_DELETED: dict[str, Any] = {
    "type": "object", "required": ["message", "deleted", "failed"],
    "properties": {"message": {"type": "string"}, "deleted": {"type": "array", "items": {"type": "string"}},
                   "failed": {"type": "array", "maxItems": 0}},
}

# responses/errors/bulk-delete-recordings.yaml (400, mixed results)
BULK_MIXED: dict[str, Any] = {
    "type": "object", "required": ["message", "deleted", "failed"],
    "properties": {"message": {"type": "string"}, "deleted": {"type": "array", "items": {"type": "string"}},
                   "failed": {"type": "array", "minItems": 1, "items": _FAILED_ITEM}},
}

# responses/success/get-recording-url.yaml
RECORDING_URL: dict[str, Any] = {
    "type": "object", "required": ["url"],
    "properties": {"url": {"type": "string", "pattern": "^https?://"}},
}


def check(instance: Any, schema: dict[str, Any]) -> Any:
    """Validate and hand the instance back (jsonschema's error names the failing path)."""
    jsonschema.validate(instance, schema)
    return instance
