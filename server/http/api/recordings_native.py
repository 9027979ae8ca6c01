"""Recordings API shaped like OpenVidu Meet, mounted at /api/v1 and /meet/api/v1.

Who may do what:

* the API key holder: everything;
* a host of the recording's room (``roomKey`` = host key or a member key, as query
  parameter or ``X-Room-Key`` header): what their effective permissions allow
  (``canRetrieveRecordings`` to read and download, ``canDeleteRecordings`` to delete);
* the room's recording key (``recordingKey``): read and download;
* a signed link (``expires`` + ``signature``, see server/domain/access/signed_links.py):
  download of that one recording, until it expires or is revoked.

Who a key makes its bearer is the one access rule (server/domain/access/identity.py), the
same the websocket joins by: a link the room has turned off opens nothing.

Anything else: 401 without credentials, 403 with credentials that do not fit.

Only the API key holder learns whether a recording exists (404 otherwise). A room
key or a signed link that does not open the recording gets the same 403, code and
message whether the recording exists or not (``forbidden`` for keys,
``invalid_link`` for links), so recording ids cannot be probed with a wrong or
another room's key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, Optional

from aiohttp import web

from ...domain.access.identity import HOST, MEMBER, RECORDING
from ...domain.access.signed_links import DEFAULT_VALID_SECONDS, MAX_VALID_SECONDS, LinkError, LinkInvalid
from ...domain.errors import ApiError, Forbidden, Unauthorized
from ...domain.recordings.service import RecordingService
from ...store.base import InvalidToken, PatternTooSlow, RecordingQuery, every_recording
from ...store.paging import name_key, name_matcher, recording_sort_value
from ...store.records import Recording
from ..appkeys import ACCESS, SETTINGS, STORE
from .auth import add_routes, check_api_key, presented_key
from .jsonbody import read_object
from .query import (
    bad_page_token, choice, id_list, int_param, invalid, pattern_too_slow, projection, room_name_filter,
)
from .recordings_media import MAX_BULK, composition_fields, download_zip, send_file, service

PREFIXES = ("/api/v1", "/meet/api/v1")
# MeetRecordingInfo's fields (meet-ce/typings recording.entity.ts), for ``fields`` / ``X-Fields``;
# roomSessionId and tracks are ours and always come along when no selection is made.
FIELDS = ("recordingId", "roomId", "roomName", "status", "layout", "encoding", "filename", "startDate",
          "endDate", "duration", "size", "errorCode", "error", "details")
STATUSES = ("starting", "active", "ending", "complete", "failed", "aborted", "limit_reached")
MAX_ITEMS = 100
DEFAULT_ITEMS = 10


def render(rec: Recording, room_name: Optional[str] = None) -> dict[str, Any]:
    """A recording as OpenVidu Meet's MeetRecordingInfo (recordingId, roomId, roomName, status always;
    the rest when known), plus roomSessionId and tracks of our own."""
    out: dict[str, Any] = {
        "recordingId": rec.recording_id, "roomId": rec.room_id, "roomName": room_name or rec.room_id,
        "status": rec.status, "filename": rec.filename, "startDate": rec.start_date, "endDate": rec.end_date,
        "duration": rec.duration, "size": rec.size, "roomSessionId": rec.room_session_id, "tracks": rec.tracks,
        "error": rec.error, **composition_fields(rec),
    }
    if rec.error:
        out["details"] = rec.error
    return out


async def room_names(request: web.Request, recs: list[Recording]) -> dict[str, str]:
    """Room id -> the room's name (a deleted room's recordings keep their room id as name)."""
    names: dict[str, str] = {}
    for room_id in {r.room_id for r in recs}:
        room = await request.app[STORE].get_room(room_id)
        names[room_id] = (room.room_name if room is not None and room.room_name else room_id)
    return names


def selected_fields(request: web.Request) -> Optional[set[str]]:
    """The union of ``fields`` and ``X-Fields`` (unknown names ignored, as OpenVidu does), or None."""
    chosen = projection(request, FIELDS)
    return None if chosen is None else set(chosen)


async def rendered(request: web.Request, recs: list[Recording]) -> list[dict[str, Any]]:
    names = await room_names(request, recs)
    chosen = selected_fields(request)
    out = [render(r, names.get(r.room_id)) for r in recs]
    return out if chosen is None else [{k: v for k, v in o.items() if k in chosen} for o in out]


async def rendered_one(request: web.Request, rec: Recording) -> dict[str, Any]:
    return (await rendered(request, [rec]))[0]


# --- access ------------------------------------------------------------------------------


async def room_key_permissions(request: web.Request, room_id: str) -> Optional[dict[str, bool]]:
    """Permissions that the room key in the request grants in this room; None without a key.

    ``roomKey`` / ``X-Room-Key`` takes a host or member key, ``recordingKey`` the recording key."""
    host_key = request.query.get("roomKey") or request.headers.get("X-Room-Key")
    recording_key = request.query.get("recordingKey") or request.query.get("recordingSecret")
    if not host_key and not recording_key:
        return None
    room = await request.app[STORE].get_room(room_id)
    if room is None:
        return {}
    key, kinds = (host_key, (HOST, MEMBER)) if host_key else (recording_key or "", (RECORDING,))
    bearer = await request.app[ACCESS].bearer(room, key)
    return bearer.permissions(room) if bearer is not None and bearer.kind in kinds else {}


KEY_REFUSED = "this key does not allow that on this recording"


async def authorize(request: web.Request, rec_id: str, permission: str, *, allow_link: bool = False) -> Recording:
    """Return the recording if the caller may use ``permission`` on it; 401/403 otherwise, and 404
    only for the API key holder: with a room key or a signed link, a recording that does not exist
    answers exactly as one the key or link does not open."""
    svc = service(request)
    if presented_key(request) is not None:
        check_api_key(request)
        return await svc.get(rec_id)
    if allow_link and ("signature" in request.query or "expires" in request.query):
        rec = await svc.find(rec_id)
        try:
            if rec is None:
                raise LinkInvalid("the link is not valid")   # as a forged link to one that exists
            svc.check_link(rec, request.query.get("expires"), request.query.get("signature"))
        except LinkError as err:
            raise Forbidden(str(err), code=err.code) from None
        return rec
    if request.query.get("roomKey") or request.headers.get("X-Room-Key") or request.query.get("recordingKey") \
            or request.query.get("recordingSecret"):
        rec = await svc.find(rec_id)
        perms = (await room_key_permissions(request, rec.room_id) or {}) if rec is not None else {}
        if rec is None or not perms.get(permission):
            if not perms and request.query.get("recordingSecret") and not (request.query.get("roomKey")
                                                             or request.headers.get("X-Room-Key")):
                # OpenVidu's shared-link secret (here: the room's recording key): 400 as OpenVidu answers,
                # alike whether the recording exists or not
                raise ApiError("the recording secret is not recognized for this recording",
                               code="invalid_recording_secret", status=400)
            raise Forbidden(KEY_REFUSED, code="forbidden")
        return rec
    raise Unauthorized("missing credentials: an API key, a room key or a signed link",
                       headers={"WWW-Authenticate": 'Bearer realm="antechamber"'})


# --- handlers ------------------------------------------------------------------------------


def page_size(request: web.Request) -> int:
    """``maxItems`` as OpenVidu reads it: a positive number, rounded down, above 100 taken as 100."""
    raw = request.query.get("maxItems", "").strip()
    if not raw:
        return DEFAULT_ITEMS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value >= 1:   # also NaN
        raise invalid("maxItems", "must be a positive number (above 100 is taken as 100)")
    return MAX_ITEMS if value > MAX_ITEMS else int(value)


async def list_recordings(request: web.Request) -> web.Response:
    q = request.query
    room_id = q.get("roomId") or None
    if presented_key(request) is not None or room_id is None:
        check_api_key(request)
    else:
        perms = await room_key_permissions(request, room_id)
        if perms is None:
            check_api_key(request)  # no credentials at all: 401
        elif not perms.get("canRetrieveRecordings"):
            raise Forbidden("this key does not allow listing this room's recordings")
    size = page_size(request)
    sort_field = choice(request, "sortField", ("startDate", "roomName", "duration", "size"), "startDate")
    room_name, name_mode, name_fold = room_name_filter(request)
    query = RecordingQuery(
        room_id=room_id,
        status=choice(request, "status", STATUSES, None),
        sort_field="startDate" if sort_field == "roomName" else sort_field,  # type: ignore[arg-type]
        sort_order=choice(request, "sortOrder", ("asc", "desc"), "desc"),  # type: ignore[arg-type]
        limit=size, token=q.get("nextPageToken") or None,
    )
    if room_name is not None or sort_field == "roomName":
        items, next_token = await _walk(request, query, sort_field, (room_name, name_mode, name_fold))
    else:
        try:
            page = await request.app[STORE].list_recordings(query)
        except InvalidToken:
            raise bad_page_token() from None
        items, next_token = list(page.items), page.next_token
    return web.json_response({
        "recordings": await rendered(request, items),
        "pagination": {"isTruncated": next_token is not None, "nextPageToken": next_token,
                       "maxItems": size},
    })


WALK_PAGE = 500
WALK_CURSOR = "n1."


def _walk_fingerprint(query: RecordingQuery, sort_field: str, name: tuple) -> str:
    parts = [query.room_id, query.status, sort_field, query.sort_order, *name]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _walk_after(token: str, fingerprint: str) -> list:
    try:
        if not token.startswith(WALK_CURSOR):
            raise ValueError
        body = token[len(WALK_CURSOR):]
        fp, after = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if fp != fingerprint or not (isinstance(after, list) and len(after) == 2):
            raise ValueError
        return after
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad_page_token() from None


async def _walk(request: web.Request, query: RecordingQuery, sort_field: str,
                name: tuple[Optional[str], str, bool]) -> tuple[list[Recording], Optional[str]]:
    """The ``roomName`` filter and sort: a recording's roomName is its room's current name (its room
    id once the room is gone), which the stores do not index, so this walks the recordings that the
    store's own filters (roomId, status) keep, WALK_PAGE at a time, and filters, sorts and pages them
    here. Fine for thousands of recordings, not millions."""
    fingerprint = _walk_fingerprint(query, sort_field, name)
    after = _walk_after(query.token, fingerprint) if query.token else None
    found = await every_recording(request.app[STORE], query, WALK_PAGE)
    names = await room_names(request, found)
    name_ok = name_matcher(name[0], name[1], name[2])
    if name_ok is not None:
        try:
            found = [r for r in found if name_ok(names[r.room_id])]
        except PatternTooSlow:
            raise pattern_too_slow() from None

    def key(rec: Recording) -> list:
        value = name_key(names[rec.room_id]) if sort_field == "roomName" else recording_sort_value(rec, sort_field)
        return [value, rec.recording_id]
    desc = query.sort_order == "desc"
    found.sort(key=key, reverse=desc)
    if after is not None:
        try:
            found = [r for r in found if (key(r) < after if desc else key(r) > after)]
        except TypeError:
            raise bad_page_token() from None
    items = found[:query.limit]
    if len(found) <= query.limit:
        return items, None
    raw = json.dumps([fingerprint, key(items[-1])], separators=(",", ":")).encode()
    return items, WALK_CURSOR + base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def get_recording(request: web.Request) -> web.Response:
    rec = await authorize(request, request.match_info["recordingId"], "canRetrieveRecordings", allow_link=True)
    return web.json_response(await rendered_one(request, rec))


async def get_media(request: web.Request) -> web.StreamResponse:
    rec = await authorize(request, request.match_info["recordingId"], "canRetrieveRecordings", allow_link=True)
    return await send_file(request, rec)


async def delete_recording(request: web.Request) -> web.Response:
    rec = await authorize(request, request.match_info["recordingId"], "canDeleteRecordings")
    await service(request).delete(rec.recording_id)
    return web.json_response({"message": f"Recording '{rec.recording_id}' deleted successfully"})


async def bulk_delete(request: web.Request) -> web.Response:
    """OpenVidu's answer: 200 ``{message, deleted, failed: []}`` when all went, else 400 with
    ``failed`` naming each id that stayed and why."""
    ids = id_list(request, "recordingIds", "recording", MAX_BULK)
    deleted, failed = await delete_many(service(request), ids)
    if not failed:
        return web.json_response({"message": "All recordings deleted successfully", "deleted": deleted,
                                  "failed": []})
    return web.json_response({"message": f"{len(failed)} recording(s) could not be deleted", "deleted": deleted,
                              "failed": failed}, status=400)


async def delete_many(svc: RecordingService, ids: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    for rid in ids:
        try:
            await svc.delete(rid)
            deleted.append(rid)
        except ApiError as err:
            failed.append({"recordingId": rid[:100], "error": err.code, "message": err.message})
    return deleted, failed


def valid_for(request: web.Request, name: str) -> int:
    return int_param(request, name, DEFAULT_VALID_SECONDS, MAX_VALID_SECONDS, unit=" (seconds)")


def media_url(request: web.Request, rec: Recording, seconds: int) -> tuple[str, int, str]:
    """(download URL, expiry, player page URL) of one signed link (the page: server/http/pages.py)."""
    svc = service(request)
    query, expires = svc.link_query(rec, seconds)
    base = request.app[SETTINGS].base_url
    return (f"{base}/api/v1/recordings/{rec.recording_id}/media?{query}", expires,
            f"{base}/recording/{rec.recording_id}?{query}")


async def get_url(request: web.Request) -> web.Response:
    rec = await authorize(request, request.match_info["recordingId"], "canRetrieveRecordings")
    # OpenVidu's privateAccess (true: only its logged-in users): checked, without effect here; the
    # link is always a signed, expiring, revocable link that opens this one recording's media.
    choice(request, "privateAccess", ("true", "false"), None)
    url, expires, player = media_url(request, rec, valid_for(request, "expiresIn"))
    return web.json_response({"url": url, "expiresAt": expires * 1000, "playerUrl": player})


async def revoke_urls(request: web.Request) -> web.Response:
    rec = await authorize(request, request.match_info["recordingId"], "canDeleteRecordings")
    await service(request).revoke_links(rec.recording_id)
    return web.Response(status=204)


LAYOUTS = ("grid", "speaker", "single-speaker")
PRESETS = ("H264_720P_30", "H264_720P_60", "H264_1080P_30", "H264_1080P_60", "PORTRAIT_H264_720P_30",
           "PORTRAIT_H264_720P_60", "PORTRAIT_H264_1080P_30", "PORTRAIT_H264_1080P_60")


def check_recording_config(config: Any) -> None:
    """``config`` of start recording: checked as OpenVidu checks it, then without effect here (tracks are
    recorded as published, one per participant and kind, not composed into a layout nor re-encoded)."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise invalid("config", "must be an object with optional layout and encoding")
    unknown = set(config) - {"layout", "encoding"}
    if unknown:
        raise invalid(f"config.{sorted(unknown)[0]}", "is not a recording option (layout, encoding)")
    if "layout" in config and config["layout"] not in LAYOUTS:
        raise invalid("config.layout", "must be grid, speaker or single-speaker")
    enc = config.get("encoding")
    if enc is None or (isinstance(enc, str) and enc in PRESETS):
        return
    if not (isinstance(enc, dict) and isinstance(enc.get("video"), dict) and isinstance(enc.get("audio"), dict)):
        raise invalid("config.encoding", "must be a preset (H264_720P_30, ...) or {video, audio} options")


async def start_recording(request: web.Request) -> web.Response:
    body = await read_object(request)
    room_id = body.get("roomId")
    if not isinstance(room_id, str) or not 1 <= len(room_id) <= 200:
        raise invalid("roomId", "must be a room id (1 to 200 characters)")
    check_recording_config(body.get("config"))
    rec = await service(request).start(room_id)
    location = f"{request.path.rstrip('/')}/{rec.recording_id}"
    return web.json_response(await rendered_one(request, rec), status=201, headers={"Location": location})


async def stop_recording(request: web.Request) -> web.Response:
    """202 as in OpenVidu: the answer is the recording as it stands (``ending`` or already ``complete``);
    ``Location`` is where to read it once finished."""
    rec = await service(request).stop(request.match_info["recordingId"])
    prefix = request.path.rsplit("/", 1)[0]
    return web.json_response(await rendered_one(request, rec), status=202, headers={"Location": prefix})


def setup(app: web.Application) -> None:
    """Routes on both prefixes: the API key's, and those that also take room keys or links."""
    one = "/recordings/{recordingId}"
    for prefix in PREFIXES:
        add_routes(app, [prefix], [("GET", "/recordings", list_recordings)], api_key=False)
        add_routes(app, [prefix], [("POST", "/recordings", start_recording), ("DELETE", "/recordings", bulk_delete),
                                   ("GET", "/recordings/download", download_zip)])
        add_routes(app, [prefix], [
            ("GET", one, get_recording), ("DELETE", one, delete_recording), ("GET", one + "/media", get_media),
            ("GET", one + "/url", get_url), ("DELETE", one + "/url", revoke_urls),
        ], api_key=False)
        add_routes(app, [prefix], [("POST", one + "/stop", stop_recording)])
