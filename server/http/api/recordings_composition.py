"""``POST /recordings/{recordingId}/composition`` on both APIs: compose (again) a finished recording
into one MP4 (server/domain/recordings/composition.py; docs/recording.md "Composed MP4").

Native (/api/v1, /meet/api/v1): the API key or a room key with ``canRetrieveRecordings``; Whereby
(/v1): the API key. 202 with the recording (``composition: pending``, or ``ready`` when it already
is); 409 ``recording_active`` while it is being written; 404 ``recording_file_missing`` without a file.
"""

from __future__ import annotations

from aiohttp import web

from ..appkeys import COMPOSITIONS
from .auth import add_routes
from .recordings_native import PREFIXES, authorize, rendered_one
from .recordings_whereby import render as whereby_render

PATH = "/recordings/{recordingId}/composition"


async def native_compose(request: web.Request) -> web.Response:
    rec = await authorize(request, request.match_info["recordingId"], "canRetrieveRecordings")
    rec = await request.app[COMPOSITIONS].request(rec.recording_id)
    return web.json_response(await rendered_one(request, rec), status=202)


async def whereby_compose(request: web.Request) -> web.Response:
    rec = await request.app[COMPOSITIONS].request(request.match_info["recordingId"])
    return web.json_response(whereby_render(rec), status=202)


def setup(app: web.Application) -> None:
    add_routes(app, list(PREFIXES), [("POST", PATH, native_compose)], api_key=False)
    add_routes(app, ["/v1"], [("POST", PATH, whereby_compose)])
