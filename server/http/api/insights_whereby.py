"""Whereby v1 insights at /v1/insights (API key only): rooms, room sessions and their participants,
from the meetings, the participants' join/leave log and the recordings this server keeps
(server/domain/rooms/insights.py; docs/compatibility.md "Whereby v1 — insights").

Listings are computed, sorted and paged by the server (an offset cursor bound to the query): fine
for the rooms and meetings of one deployment, not for millions. Bad input answers 400
``validation_error`` naming the parameter, as the rest of /v1; what needs data this server does not
collect (external ids, per-participant network samples) answers 403 naming the capability.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Callable

from aiohttp import web

from ...domain import end_dates
from ...domain.errors import ApiError
from ...domain.rooms.defaults import now_ms
from ...domain.rooms.insights import RoomInsight, SessionInsight, room_insight, session_insights
from ...store.base import RoomQuery
from ...store.records import Participation
from ..appkeys import STORE
from .auth import add_routes
from .query import bad, int_param
from .whereby import iso_utc

DEFAULT_LIMIT, MAX_LIMIT = 10, 100
CURSOR = "ins1."
ROLE_NAMES = {"host": "host", "guest": "visitor", "viewer": "viewer"}   # ours -> Whereby's roleName


def _forbidden(code: str, message: str) -> ApiError:
    return ApiError(message, code=code, status=403)


def _cursor(request: web.Request, offset: int) -> str:
    raw = json.dumps([offset, _fingerprint(request)], separators=(",", ":")).encode()
    return CURSOR + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _fingerprint(request: web.Request) -> str:
    kept = sorted((k, v) for k, v in request.query.items() if k not in ("cursor", "limit"))
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:16]


def _offset(request: web.Request) -> int:
    token = request.query.get("cursor")
    if not token:
        return 0
    try:
        if not token.startswith(CURSOR):
            raise ValueError
        body = token[len(CURSOR):]
        offset, fingerprint = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not isinstance(offset, int) or offset < 0 or fingerprint != _fingerprint(request):
            raise ValueError
        return offset
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad("cursor", "is not a cursor this server handed out for this query") from None


def _sort_by(request: web.Request, fields: tuple[str, ...], default: str) -> tuple[str, bool]:
    raw = request.query.get("sortBy") or default
    name, _, order = raw.partition(":")
    if name not in fields or order not in ("", "asc", "desc"):
        raise bad("sortBy", f"must be one of {', '.join(fields)}, optionally followed by :asc or :desc")
    return name, order == "desc"


def _page(request: web.Request, rows: list[dict[str, Any]], fields: tuple[str, ...], default: str) -> web.Response:
    """Sort ``rows`` by ``sortBy`` (nulls last either way; ties keep the given order), page them."""
    name, desc = _sort_by(request, fields, default)
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT, whereby=True)
    offset = _offset(request)
    present = sorted((r for r in rows if r.get(name) is not None), key=lambda r: r[name], reverse=desc)
    ordered = present + [r for r in rows if r.get(name) is None]
    page = ordered[offset:offset + limit]
    more = offset + limit < len(ordered)
    return web.json_response({"results": page, "cursor": _cursor(request, offset + limit) if more else None})


def _room_name(raw: str) -> str:
    return raw if raw.startswith("/") else "/" + raw


def _date(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad(name, "must be an ISO 8601 date-time") from None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp() * 1000)


def _name_matcher(request: web.Request) -> Callable[[str], bool]:
    tests: list[Callable[[str], bool]] = []
    for key, test in (("roomName[exact]", lambda n, v: n == v), ("roomName", lambda n, v: n == v),
                      ("roomName[startsWith]", lambda n, v: n.startswith(v)),
                      ("roomName[contains]", lambda n, v: v in n)):
        value = request.query.get(key)
        if value:
            value = value if key == "roomName[contains]" else _room_name(value)
            tests.append(lambda n, t=test, v=value: t(n, v))
    return lambda name: all(t(name) for t in tests)


ROOM_SORTS = ("roomName", "createdAt", "endAt", "firstSessionStartedAt", "lastSessionStartedAt",
              "totalParticipantMinutes", "totalRecorderMinutes", "totalStreamerMinutes", "totalUniqueParticipants",
              "totalUniqueRecorders", "totalUniqueStreamers", "totalSessions")


def render_room(ins: RoomInsight) -> dict[str, Any]:
    room = ins.room
    return {
        "roomName": "/" + room.room_id, "createdAt": iso_utc(room.creation_date),
        "endAt": iso_utc(end_dates.end_date(room)),     # Whereby's endDate (not when it is deleted)
        "firstSessionStartedAt": iso_utc(ins.first_session_start),
        "lastSessionStartedAt": iso_utc(ins.last_session_start),
        "totalParticipantMinutes": ins.total("participant_minutes"),
        "totalRecorderMinutes": ins.total("recorder_minutes"),
        "totalStreamerMinutes": 0, "totalUniqueParticipants": ins.unique_participants,
        "totalUniqueRecorders": ins.unique_recorders, "totalUniqueStreamers": 0, "totalSessions": len(ins.sessions),
        "rating": None, "totalRatings": None,
    }


async def rooms(request: web.Request) -> web.Response:
    store, now = request.app[STORE], now_ms()
    matches, since, until = _name_matcher(request), _date(request, "createdAt[from]"), _date(request, "createdAt[to]")
    _sort_by(request, ROOM_SORTS, "createdAt:desc")
    rows, token = [], None
    while True:
        page = await store.list_rooms(RoomQuery(api="whereby", sort_field="creationDate", sort_order="desc",
                                                limit=100, token=token))
        for room in page.items:
            if (matches("/" + room.room_id) and (since is None or room.creation_date >= since)
                    and (until is None or room.creation_date <= until)):
                rows.append(render_room(await room_insight(store, room, now)))
        token = page.next_token
        if token is None:
            break
    return _page(request, rows, ROOM_SORTS, "createdAt:desc")


SESSION_SORTS = ("roomSessionId", "createdAt", "endAt", "startedAt", "endedAt", "totalParticipantMinutes",
                 "totalRecorderMinutes", "totalStreamerMinutes", "totalUniqueParticipants", "totalUniqueRecorders",
                 "totalUniqueStreamers")


def render_session(s: SessionInsight) -> dict[str, Any]:
    m = s.meeting
    return {
        "roomSessionId": m.room_session_id, "roomName": "/" + m.room_id,
        "createdAt": iso_utc(m.start_date), "endAt": iso_utc(m.end_date),
        "startedAt": iso_utc(m.start_date), "endedAt": iso_utc(m.end_date),
        "totalParticipantMinutes": s.participant_minutes, "totalRecorderMinutes": s.recorder_minutes,
        "totalStreamerMinutes": 0, "totalUniqueParticipants": s.unique_participants,
        "totalUniqueRecorders": len(s.recordings), "totalUniqueStreamers": 0, "rating": None, "totalRatings": None,
    }


async def room_sessions(request: web.Request) -> web.Response:
    name = request.query.get("roomName", "")
    if not name.strip("/"):
        raise bad("roomName", "is required")
    _sort_by(request, SESSION_SORTS, "createdAt:desc")
    wanted = request.query.get("roomSessionId")
    sessions = await session_insights(request.app[STORE], _room_name(name)[1:], now_ms())
    rows = [render_session(s) for s in sessions if not wanted or s.meeting.room_session_id == wanted]
    return _page(request, rows, SESSION_SORTS, "createdAt:desc")


def render_participant(p: Participation) -> dict[str, Any]:
    return {
        "roomSessionId": p.room_session_id, "participantId": p.participant_id, "deviceId": None, "userId": None,
        "roleName": ROLE_NAMES.get(p.role, p.role), "displayName": p.display_name,
        "joinedAt": iso_utc(p.joined_at), "leftAt": iso_utc(p.left_at), "externalId": None,
        "rating": None, "tags": None, "comment": None,
    }


async def participants(request: web.Request) -> web.Response:
    session = request.query.get("roomSessionId")
    if not session:
        if request.query.get("externalId"):
            raise _forbidden("external_id_not_supported", "participants carry no external id on this server; "
                                                          "ask by roomSessionId")
        raise bad("roomSessionId", "is required (or externalId)")
    _sort_by(request, ("joinedAt", "leftAt"), "joinedAt:asc")
    rows = [render_participant(p) for p in await request.app[STORE].list_participations(session)]
    if request.query.get("externalId"):
        rows = []                     # nobody here has an external id
    return _page(request, rows, ("joinedAt", "leftAt"), "joinedAt:asc")


async def participant(request: web.Request) -> web.Response:
    for name in ("roomSessionId", "participantId"):
        if not request.query.get(name):
            raise bad(name, "is required")
    raise _forbidden("participant_samples_not_supported",
                     "this server collects no per-participant user agent or network samples")


def setup(app: web.Application) -> None:
    add_routes(app, ["/v1"], [
        ("GET", "/insights/rooms", rooms), ("GET", "/insights/room-sessions", room_sessions),
        ("GET", "/insights/participants", participants), ("GET", "/insights/participant", participant),
    ])
