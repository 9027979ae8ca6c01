"""JSON schemas of Whereby v1's answers, written from its published REST reference
(whereby/docs, .gitbook/assets/_api-reference-docs-openapi.json: components.schemas Meeting,
Recording and the inline answers of /meetings, /recordings and /recordings/{id}/access-link).

Extra fields are allowed (the spec does not forbid them; Antechamber adds some of its own).
The spec's Recording lists only ``required`` and an example; the types here follow that example.
"""

from __future__ import annotations

from typing import Any

import jsonschema

# "Always in UTC": the spec's examples end in Z (with or without milliseconds)
DATE_TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
URI = {"type": "string", "pattern": r"^https?://[^\s]+$"}

MEETING: dict[str, Any] = {
    "type": "object",
    "required": ["meetingId", "roomUrl", "endDate"],
    "properties": {
        "meetingId": {"type": "string", "minLength": 1},
        "roomName": {"type": "string", "pattern": r"^/"},
        "roomUrl": URI,
        "startDate": DATE_TIME,
        "endDate": DATE_TIME,
        "hostRoomUrl": URI,
        "viewerRoomUrl": URI,
    },
}

MEETING_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["results", "cursor"],
    "properties": {
        "results": {"type": "array", "items": MEETING},
        # "If there are no more results, the value returned is null."
        "cursor": {"type": ["string", "null"]},
    },
}

RECORDING: dict[str, Any] = {
    "type": "object",
    "required": ["recordingId", "roomSessionId", "filename", "startDate", "endDate", "sizeInMegaBytes"],
    "properties": {
        "recordingId": {"type": "string", "minLength": 1},
        "roomSessionId": {"type": "string"},
        "filename": {"type": "string"},
        "startDate": DATE_TIME,
        "endDate": DATE_TIME,
        "sizeInMegaBytes": {"type": "number", "minimum": 0},
    },
}

RECORDING_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["results", "cursor"],
    "properties": {"results": {"type": "array", "items": RECORDING}, "cursor": {"type": ["string", "null"]}},
}

ACCESS_LINK: dict[str, Any] = {
    "type": "object",
    "required": ["accessLink", "expires"],
    "properties": {"accessLink": {"type": "string", "minLength": 1}, "expires": {"type": "integer"}},
}

# The spec gives error answers no body schema; the throttle answer has {"error": string}. Ours
# keeps that key and adds a stable code and a human message.
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error", "code", "message"],
    "properties": {"error": {"type": "string", "minLength": 1}, "code": {"type": "string", "minLength": 1},
                   "message": {"type": "string", "minLength": 1}},
}


def check(schema: dict[str, Any], value: Any) -> None:
    """Raise jsonschema.ValidationError if ``value`` does not match ``schema``."""
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(value)
