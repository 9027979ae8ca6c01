"""Whereby-compatible recordings API at /v1 (API key only; same recordings as the native API)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.errors import BadRequest
from ...store.base import InvalidToken, RecordingQuery
from ...store.records import Recording
from ...domain.access.signed_links import DEFAULT_VALID_SECONDS, MAX_VALID_SECONDS
from .auth import require_api_key
from .jsonbody import read_object
from .recordings_native import delete_many, media_url, send_file, service
from .whereby import iso_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_BULK = 100
SORTS = ("startDate", "duration", "size")


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(f"invalid request: {field}: {message}", code="validation_error",
                      details=[{"field": field, "message": message}])


def render(rec: Recording) -> dict[str, Any]:
    return {
        "recordingId": rec.recording_id, "roomSessionId": rec.room_session_id, "roomName": "/" + rec.room_id,
        "filename": rec.filename, "startDate": iso_utc(rec.start_date), "endDate": iso_utc(rec.end_date),
        "type": "local", "status": rec.status, "duration": rec.duration, "size": rec.size,
    }


def _sort(raw: str | None) -> tuple[str, str]:
    if not raw:
        return "startDate", "desc"
    field, _, order = raw.partition(":")
    if field not in SORTS or order not in ("", "asc", "desc"):
        raise _bad("sortBy", f"must be one of {', '.join(SORTS)}, optionally followed by :asc or :desc")
    return field, order or "desc"


async def list_recordings(request: web.Request) -> web.Response:
    q = request.query
    limit = DEFAULT_LIMIT
    raw = q.get("limit")
    if raw not in (None, ""):
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise _bad("limit", f"must be an integer from 1 to {MAX_LIMIT}")
        limit = int(raw)
    room_name = (q.get("roomName") or "").lstrip("/") or None
    field, order = _sort(q.get("sortBy"))
    query = RecordingQuery(room_id=room_name, sort_field=field, sort_order=order,  # type: ignore[arg-type]
                           limit=limit, token=q.get("cursor") or None)
    try:
        page = await service(request).store.list_recordings(query)
    except InvalidToken:
        raise _bad("cursor", "is not a cursor this server handed out") from None
    return web.json_response({"results": [render(r) for r in page.items], "cursor": page.next_token})


async def get_recording(request: web.Request) -> web.Response:
    rec = await service(request).get(request.match_info["recordingId"])
    return web.json_response(render(rec))


async def delete_recording(request: web.Request) -> web.Response:
    await service(request).delete(request.match_info["recordingId"])
    return web.Response(status=204)


async def bulk_delete(request: web.Request) -> web.Response:
    body = await read_object(request)
    ids = body.get("recordingIds")
    if (not isinstance(ids, list) or not ids or len(ids) > MAX_BULK
            or not all(isinstance(i, str) and i for i in ids)):
        raise _bad("recordingIds", f"must be a list of 1 to {MAX_BULK} recording ids")
    deleted, failed = await delete_many(service(request), list(dict.fromkeys(ids)))
    if not failed:
        return web.Response(status=204)
    return web.json_response({"deleted": deleted, "notDeleted": failed}, status=200)


async def access_link(request: web.Request) -> web.Response:
    rec = await service(request).get(request.match_info["recordingId"])
    raw = request.query.get("validForSeconds")
    seconds = DEFAULT_VALID_SECONDS
    if raw not in (None, ""):
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_VALID_SECONDS:
            raise _bad("validForSeconds", f"must be an integer from 1 to {MAX_VALID_SECONDS}")
        seconds = int(raw)
    url, expires = media_url(request, rec, seconds)
    return web.json_response({"accessLink": url, "expires": expires * 1000})


async def download(request: web.Request) -> web.StreamResponse:
    rec = await service(request).get(request.match_info["recordingId"])
    return await send_file(request, rec)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/recordings", require_api_key(list_recordings))
    r.add_post("/v1/recordings/bulk-delete", require_api_key(bulk_delete))
    r.add_get("/v1/recordings/{recordingId}", require_api_key(get_recording))
    r.add_delete("/v1/recordings/{recordingId}", require_api_key(delete_recording))
    r.add_get("/v1/recordings/{recordingId}/access-link", require_api_key(access_link))
    r.add_get("/v1/recordings/{recordingId}/media", require_api_key(download))
