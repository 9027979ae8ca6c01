"""Whereby-compatible recordings API at /v1 (API key only; same recordings as the native API)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.access.signed_links import DEFAULT_VALID_SECONDS, MAX_VALID_SECONDS
from ...store.base import InvalidToken, RecordingQuery
from ...store.records import Recording
from ..appkeys import STORE
from .auth import add_routes
from .jsonbody import read_object
from .query import bad, int_param
from .recordings_native import delete_many, media_url, send_file, service
from .whereby import iso_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_BULK = 100
SORTS = ("startDate", "duration", "size")


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
        raise bad("sortBy", f"must be one of {', '.join(SORTS)}, optionally followed by :asc or :desc")
    return field, order or "desc"


async def list_recordings(request: web.Request) -> web.Response:
    q = request.query
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT, whereby=True)
    room_name = (q.get("roomName") or "").lstrip("/") or None
    field, order = _sort(q.get("sortBy"))
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
    await service(request).delete(request.match_info["recordingId"])
    return web.Response(status=204)


async def bulk_delete(request: web.Request) -> web.Response:
    body = await read_object(request)
    ids = body.get("recordingIds")
    if (not isinstance(ids, list) or not ids or len(ids) > MAX_BULK
            or not all(isinstance(i, str) and i for i in ids)):
        raise bad("recordingIds", f"must be a list of 1 to {MAX_BULK} recording ids")
    deleted, failed = await delete_many(service(request), list(dict.fromkeys(ids)))
    if not failed:
        return web.Response(status=204)
    return web.json_response({"deleted": deleted, "notDeleted": failed}, status=200)


async def access_link(request: web.Request) -> web.Response:
    rec = await service(request).get(request.match_info["recordingId"])
    seconds = int_param(request, "validForSeconds", DEFAULT_VALID_SECONDS, MAX_VALID_SECONDS, whereby=True)
    url, expires = media_url(request, rec, seconds)
    return web.json_response({"accessLink": url, "expires": expires * 1000})


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
