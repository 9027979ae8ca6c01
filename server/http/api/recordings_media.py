"""Recording file downloads of the recordings API (routes in recordings_native.setup): one recording's
media with format negotiation (``format`` / Accept: the stored Matroska/WebM file or an MP4 remux),
served with Range support, and several finished recordings in one ZIP.

Two files per recording, chosen by ``variant``: ``tracks`` (the default: the multi-track Matroska,
the source of truth, or its MP4 remux) and ``composed`` (one H.264/AAC MP4 of the meeting as people
saw it, server/domain/recordings/composition.py; 409 ``composition_not_ready`` until it is).

Recordings from any node (docs/architecture.md "Seams for the cluster"): a recording whose file is
not here but was written by another node (``Recording.node_id``) is streamed from that node's
internal URL (server/http/internal.py, signed with the server secret; Range and the negotiation go
through, 206 and its headers come back); 503 ``unavailable`` when that node is gone. With a shared
volume for the recordings directory the file is here, and it is served as on one node.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ...domain.errors import ApiError, Conflict, NotFound, Unavailable
from ...domain.recordings.service import LIVE_STATUSES, RecordingService
from ...store.records import Recording
from ..appkeys import COMPOSITIONS, CREDENTIALS, NODES, RECORDINGS
from ..node_link import proxy
from .cluster import node_id_of
from .query import id_list, invalid

MAX_BULK = 100
INTERNAL_MEDIA = "/internal/v1/recordings/{recordingId}/media"    # server/http/internal.py
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def service(request: web.Request) -> RecordingService:
    return request.app[RECORDINGS]


VARIANTS = ("tracks", "composed")


def composition_fields(rec: Recording) -> dict:
    """The composed MP4's state, an extension field of both APIs' recording objects."""
    return {"composition": rec.composition,
            "compositionProgress": round(rec.composition_progress if rec.composition != "ready" else 1.0, 3)}


def variant_of(request: web.Request) -> str:
    value = request.query.get("variant", "tracks")
    if value not in VARIANTS:
        raise invalid("variant", "must be tracks (the multi-track file) or composed (one MP4 of the meeting)")
    return value


def download_name(rec: Recording) -> str:
    room = _SAFE.sub("-", rec.room_id).strip("-.")[:60] or "room"
    ext = rec.filename.rsplit(".", 1)[-1] if "." in rec.filename else "mkv"
    return f"recording-{room}-{rec.start_date}.{_SAFE.sub('', ext)[:5] or 'mkv'}"


MATROSKA, WEBM, MP4 = "video/x-matroska", "video/webm", "video/mp4"
FORMATS = {"mkv": MATROSKA, "matroska": MATROSKA, "webm": WEBM, "mp4": MP4}


def accepted(header: str) -> list[tuple[str, float]]:
    """Media ranges of an Accept header with their q, best first (order kept among equals)."""
    out: list[tuple[str, float]] = []
    for part in header.split(","):
        kind, *params = [p.strip() for p in part.split(";")]
        if not kind:
            continue
        q = 1.0
        for p in params:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        out.append((kind.lower(), q))
    return sorted(out, key=lambda e: -e[1])


def wanted_types(request: web.Request, native: str) -> list[str]:
    """Which files to send, best first: ``format`` (mp4 | mkv | matroska | webm) if given, else the
    Accept header (the stored Matroska/WebM file unless MP4 is preferred); 406 if Accept admits neither."""
    fmt = request.query.get("format")
    if fmt:
        ctype = FORMATS.get(fmt.lower())
        if ctype is None:
            raise invalid("format", "must be mp4, mkv, matroska or webm")
        return [MP4 if ctype == MP4 else native]
    header = request.headers.get("Accept", "").strip()
    if not header:
        return [native]
    out: list[str] = []
    for kind, q in accepted(header):
        if q <= 0:
            continue
        if kind in ("*/*", "video/*", native) or (kind in (MATROSKA, WEBM) and native in (MATROSKA, WEBM)):
            out.append(native)
        elif kind == MP4:
            out.append(MP4)
    if not out:
        raise ApiError(f"this recording is served as {native} or {MP4}; the Accept header admits neither",
                       code="not_acceptable", status=406)
    return list(dict.fromkeys(out))


async def from_its_node(request: web.Request, rec: Recording) -> web.StreamResponse | None:
    """The recording's file streamed from the node that wrote it, if that is another node; None if
    this node wrote it (or nobody recorded which node did)."""
    me = node_id_of(request.app)
    if not rec.node_id or rec.node_id == me:
        return None
    info = await request.app[NODES].node(rec.node_id) if NODES in request.app else None
    if info is None:
        raise Unavailable(f"the node holding this recording's file ({rec.node_id}) is not in the cluster now; "
                          "try again later")
    path = INTERNAL_MEDIA.replace("{recordingId}", quote(rec.recording_id, safe=""))
    fmt, variant = request.query.get("format"), variant_of(request)
    if fmt:
        path += "?format=" + quote(fmt, safe="")
    if variant != "tracks":
        path += ("&" if fmt else "?") + "variant=" + variant
    return await proxy(request, info.url, path, request.app[CREDENTIALS].server_secret, me)


async def send_file(request: web.Request, rec: Recording, *, local_only: bool = False) -> web.StreamResponse:
    if rec.status in LIVE_STATUSES:
        raise_conflict(rec)
    if variant_of(request) == "composed":
        return await send_composed(request, rec, local_only)
    path = service(request).file_of(rec)
    if path is None:
        remote = None if local_only else await from_its_node(request, rec)
        if remote is not None:
            return remote
        raise NotFound("the recording has no file", code="recording_file_missing")
    native = WEBM if path.suffix == ".webm" else MP4 if path.suffix == ".mp4" else MATROSKA
    wanted = wanted_types(request, native)
    ctype = wanted[0]
    if ctype != native:
        try:
            path = await service(request).mp4_of(rec)
        except ApiError as err:   # MP4 impossible (VP8): the stored file if the client also takes it
            if err.status != 406 or native not in wanted:
                raise
            ctype = native
    name = download_name(rec)
    if ctype == MP4:
        name = name.rsplit(".", 1)[0] + ".mp4"
    return file_response(path, ctype, name)


async def send_composed(request: web.Request, rec: Recording, local_only: bool) -> web.StreamResponse:
    path = request.app[COMPOSITIONS].ready_file(rec) if COMPOSITIONS in request.app else None
    if path is None:
        remote = None if local_only or rec.composition != "ready" else await from_its_node(request, rec)
        if remote is not None:
            return remote
        state = rec.composition or "not requested"
        raise Conflict(f"the composed video is not ready (composition: {state}); the tracks file is "
                       "(variant=tracks)", code="composition_not_ready")
    return file_response(path, MP4, download_name(rec).rsplit(".", 1)[0] + "-composed.mp4")


def file_response(path: Path, ctype: str, name: str) -> web.FileResponse:
    """The file with Range support (206 / 416, If-Range) and download headers."""
    return web.FileResponse(path, headers={
        "Content-Type": ctype,
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
        "Vary": "Accept",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })


def raise_conflict(rec: Recording):
    raise Conflict(f"the recording is {rec.status}; it can be fetched once it has ended", code="recording_active")


async def download_zip(request: web.Request) -> web.StreamResponse:
    """``GET /recordings/download``: the finished recordings among ``recordingIds`` in one ZIP
    (``recordings.zip``). Each goes in as MP4 where its tracks allow a remux (H.264 with Opus/AAC),
    else as its stored Matroska/WebM file (VP8 cannot be MP4 without re-encoding). Ids that do not
    exist, are still recording or have no file are left out; 400 if that leaves none."""
    ids = id_list(request, "recordingIds", "recording", MAX_BULK)
    svc = service(request)
    entries: list[tuple[str, Path]] = []
    for rid in ids:
        rec = await svc.find(rid)
        if rec is None or rec.status in LIVE_STATUSES or svc.file_of(rec) is None:
            continue
        try:
            path = await svc.mp4_of(rec)
        except ApiError:
            path = svc.file_of(rec)
        if path is not None:
            entries.append((f"{rec.recording_id}{path.suffix}", path))
    if not entries:
        raise ApiError("none of the given recordings are available for ZIP download", code="recordings_zip_empty",
                       status=400)
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip", dir=svc.dir)
    os.close(fd)
    tmp = Path(name)
    try:
        def build() -> None:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
                for arcname, path in entries:
                    z.write(path, arcname)
        await asyncio.to_thread(build)
        resp = web.StreamResponse(headers={
            "Content-Type": "application/zip", "Content-Disposition": 'attachment; filename="recordings.zip"',
            "Content-Length": str(tmp.stat().st_size), "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff"})
        await resp.prepare(request)
        with tmp.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, 256 * 1024):
                await resp.write(chunk)
        await resp.write_eof()
        return resp
    finally:
        tmp.unlink(missing_ok=True)
