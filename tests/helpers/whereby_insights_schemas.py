"""JSON schemas of Whereby v1's insights answers, written from its published REST reference
(whereby/docs, .gitbook/assets/_api-reference-docs-openapi.json: the inline 200 answers of
/insights/rooms, /insights/room-sessions and /insights/participants).

Every ``required`` field of the reference is required here. Where the reference types a field as
a string but this server has no value to give (no session yet, a session still running, no device,
user or external id), null is allowed: those cases are listed in docs/compatibility.md.
"""

from __future__ import annotations

from typing import Any

from tests.helpers.whereby_schemas import DATE_TIME

DATE_OR_NULL = {"anyOf": [DATE_TIME, {"type": "null"}]}
COUNT = {"type": "integer", "minimum": 0}
ROOM_NAME = {"type": "string", "pattern": r"^/"}
RATING = {"type": ["number", "null"]}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["results", "cursor"],
            "properties": {"results": {"type": "array", "items": item}, "cursor": {"type": ["string", "null"]}}}


_TOTALS = ("totalParticipantMinutes", "totalRecorderMinutes", "totalStreamerMinutes", "totalUniqueParticipants",
           "totalUniqueRecorders", "totalUniqueStreamers")

ROOM_INSIGHT: dict[str, Any] = {
    "type": "object",
    "required": ["roomName", "createdAt", "endAt", "firstSessionStartedAt", "lastSessionStartedAt", *_TOTALS,
                 "totalSessions"],
    "properties": {"roomName": ROOM_NAME, "createdAt": DATE_TIME, "endAt": DATE_TIME,
                   "firstSessionStartedAt": DATE_OR_NULL, "lastSessionStartedAt": DATE_OR_NULL,
                   **{t: COUNT for t in _TOTALS}, "totalSessions": COUNT, "rating": RATING, "totalRatings": RATING},
}

SESSION_INSIGHT: dict[str, Any] = {
    "type": "object",
    "required": ["roomSessionId", "roomName", "createdAt", "endAt", *_TOTALS],
    "properties": {"roomSessionId": {"type": "string", "minLength": 1}, "roomName": ROOM_NAME,
                   "createdAt": DATE_TIME, "endAt": DATE_OR_NULL, "startedAt": DATE_TIME, "endedAt": DATE_OR_NULL,
                   **{t: COUNT for t in _TOTALS}, "rating": RATING, "totalRatings": RATING},
}

PARTICIPANT: dict[str, Any] = {
    "type": "object",
    "required": ["roomSessionId", "participantId", "deviceId", "userId", "roleName", "displayName", "joinedAt",
                 "leftAt", "externalId"],
    "properties": {"roomSessionId": {"type": "string", "minLength": 1}, "participantId": {"type": "string",
                                                                                          "minLength": 1},
                   "deviceId": {"type": ["string", "null"]}, "userId": {"type": ["string", "null"]},
                   "roleName": {"type": "string"}, "displayName": {"type": "string"}, "joinedAt": DATE_TIME,
                   "leftAt": DATE_OR_NULL, "externalId": {"type": ["string", "null"]},
                   "rating": RATING, "tags": {"type": ["array", "null"]}, "comment": {"type": ["string", "null"]}},
}

ROOM_INSIGHT_PAGE = _page(ROOM_INSIGHT)
SESSION_INSIGHT_PAGE = _page(SESSION_INSIGHT)
PARTICIPANT_PAGE = _page(PARTICIPANT)
