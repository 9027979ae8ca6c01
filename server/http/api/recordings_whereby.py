"""Whereby-compatible recordings API at /v1 (API key only; same recordings as the native API).

Deletes are idempotent as Whereby specifies: an unknown recording answers 204, a bulk
delete answers 204 with no body. A recording still being written is not deleted: 409
``recording_active`` names it (a single delete) or lists them (a bulk delete, after
deleting the others). ``sizeInMegaBytes`` is the file size in MB (10^6 bytes).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from ...domain.errors import Conflict, NotFound
from ...domain.access.signed_links import DEFAULT_VALID_SECONDS, MAX_VALID_SECONDS
from ...store.base import InvalidToken, RecordingQuery, every_recording
from ...store.records import Recording
from ..appkeys import STORE
from .auth import add_routes
from .jsonbody import read_object
from .query import bad, int_param
from .recordings_media import composition_fields
from .recordings_native import media_url, send_file, service
from .whereby import iso_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_BULK = 100
# Whereby's sort fields -> the store's ("size" kept for clients of earlier versions of this server)
SORTS = {"roomName": "roomName", "startDate": "startDate", "duration": "duration",
         "sizeInMegaBytes": "size", "size": "size"}
SCAN_PAGE = 100
NAME_CURSOR = "rn1."


def megabytes(size: int) -> float:
    return round(size / 1_000_000, 3)


def render(rec: Recording) -> dict[str, Any]:
    return {
        "recordingId": rec.recording_id, "roomSessionId": rec.room_session_id, "roomName": "/" + rec.room_id,
        "filename": rec.filename, "startDate": iso_utc(rec.start_date), "endDate": iso_utc(rec.end_date),
        "sizeInMegaBytes": megabytes(rec.size),
        "type": "local", "status": rec.status, "duration": rec.duration, "size": rec.size,
        **composition_fields(rec),
    }


def _sort(raw: str | None) -> tuple[str, str]:
    if not raw:
        return "startDate", "desc"
    field, _, order = raw.partition(":")
    if field not in SORTS or order not in ("", "asc", "desc"):
        raise bad("sortBy", "must be one of roomName, startDate, duration, sizeInMegaBytes, "
                            "optionally followed by :asc or :desc")
    return SORTS[field], order or "desc"


def _name_cursor(rec: Recording) -> str:
    raw = json.dumps([rec.room_id, rec.recording_id], separators=(",", ":")).encode()
    return NAME_CURSOR + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after_name_cursor(token: str) -> tuple[str, str]:
    try:
        if not token.startswith(NAME_CURSOR):
            raise ValueError
        body = token[len(NAME_CURSOR):]
        pair = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise ValueError
        return pair[0], pair[1]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad("cursor", "is not a cursor this server handed out") from None


async def _by_room_name(request: web.Request, room_id: str | None, order: str, limit: int,
                        token: str | None) -> tuple[list[Recording], str | None]:
    """Sort by roomName (= '/' + room id): the stores index recordings by date, duration and size only,
    so this walks the recordings (a page of SCAN_PAGE at a time) and sorts them here."""
    after = _after_name_cursor(token) if token else None
    found = await every_recording(request.app[STORE], RecordingQuery(room_id=room_id), SCAN_PAGE)
    desc = order == "desc"
    found.sort(key=lambda r: (r.room_id, r.recording_id), reverse=desc)
    if after is not None:
        found = [r for r in found if ((r.room_id, r.recording_id) < after if desc
                                      else (r.room_id, r.recording_id) > after)]
    items = found[:limit]
    return items, (_name_cursor(items[-1]) if len(found) > limit else None)


async def list_recordings(request: web.Request) -> web.Response:
    q = request.query
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT, whereby=True)
    room_name = (q.get("roomName") or "").lstrip("/") or None
    field, order = _sort(q.get("sortBy"))
    if field == "roomName":
        items, cursor = await _by_room_name(request, room_name, order, limit, q.get("cursor") or None)
        return web.json_response({"results": [render(r) for r in items], "cursor": cursor})
    query = RecordingQuery(room_id=room_name, sort_field=field, sort_order=order,  # type: ignore[arg-type]
                           limit=limit, token=q.get("cursor") or None)
    try:
        page = await request.app[STORE].list_recordings(query)
    except InvalidToken:
        raise bad("cursor", "is not a cursor this server handed out") from None
    return web.json_response({"results": [render(r) for r in page.items], "cursor": page.next_token})


async def get_recording(request: web.Request) -> web.Response:
    rec = await service(request).get(request.match_info["recordingId"])
    return web.json_response(render(rec))


async def delete_recording(request: web.Request) -> web.Response:
    """Idempotent (Whereby): a recording that is gone, or never was, answers 204 too."""
    try:
        await service(request).delete(request.match_info["recordingId"])
    except NotFound:
        pass
    return web.Response(status=204)


async def bulk_delete(request: web.Request) -> web.Response:
    body = await read_object(request)
    ids = body.get("recordingIds")
    if (not isinstance(ids, list) or not ids or len(ids) > MAX_BULK
            or not all(isinstance(i, str) and i for i in ids)):
        raise bad("recordingIds", f"must be a list of 1 to {MAX_BULK} recording ids")
    svc = service(request)
    active: list[str] = []
    for rid in dict.fromkeys(ids):
        try:
            await svc.delete(rid)
        except NotFound:
            pass          # idempotent: already deleted, or never existed
        except Conflict:
            active.append(rid)
    if active:
        raise Conflict(f"{len(active)} recording(s) are still being written and were not deleted; stop them "
                       "first (the others were deleted)", code="recording_active",
                       details=[{"field": "recordingIds", "message": rid[:100]} for rid in active])
    return web.Response(status=204)


async def access_link(request: web.Request) -> web.Response:
    rec = await service(request).get(request.match_info["recordingId"])
    seconds = int_param(request, "validForSeconds", DEFAULT_VALID_SECONDS, MAX_VALID_SECONDS, whereby=True)
    url, expires, player = media_url(request, rec, seconds)
    return web.json_response({"accessLink": url, "expires": expires * 1000, "playerUrl": player})


async def download(request: web.Request) -> web.StreamResponse:
    rec = await service(request).get(request.match_info["recordingId"])
    return await send_file(request, rec)


def setup(app: web.Application) -> None:
    one = "/recordings/{recordingId}"
    add_routes(app, ["/v1"], [
        ("GET", "/recordings", list_recordings), ("POST", "/recordings/bulk-delete", bulk_delete),
        ("GET", one, get_recording), ("DELETE", one, delete_recording),
        ("GET", one + "/access-link", access_link), ("GET", one + "/media", download),
    ])
