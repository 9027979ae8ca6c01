"""The internal endpoints one node calls on another (docs/architecture.md "Seams for the cluster"):
signed with the shared server secret (server/http/node_link.py), never reached with an API key.

``GET /internal/v1/recordings/{recordingId}/media``: the recording's file as this node holds it,
negotiated (``format``, Accept) and ranged (Range, If-Range) as the public media endpoint does; the
node a client asked proxies it (server/http/api/recordings_media.py ``send_file``).
"""

from __future__ import annotations

from aiohttp import web

from ..domain.errors import NotFound
from .api.recordings_media import INTERNAL_MEDIA, send_file, service
from .appkeys import CREDENTIALS
from .node_link import verify


async def recording_media(request: web.Request) -> web.StreamResponse:
    verify(request.app[CREDENTIALS].server_secret, request)
    rec = await service(request).find(request.match_info["recordingId"])
    if rec is None:
        raise NotFound("recording not found", code="recording_not_found")
    return await send_file(request, rec, local_only=True)


def setup(app: web.Application) -> None:
    app.router.add_get(INTERNAL_MEDIA, recording_media)
