"""The room page's early look-up: ``POST /{roomName}/state`` answers the public state of a room
before the page shows its camera preview and name field (docs/client.md "Views of the room page").

Body (optional JSON): ``{"key": "<the link's key>"}`` -- in the body, not the query string, so it is
never in an access log. The answer is ``{"state": …}``:

- ``open``: the link may try to join (the join itself still checks everything: lock, capacity, key);
- ``closed``: the room's status is closed; ``expired``: a Whereby room past its end date (+1 h);
- ``unavailable``: no such room, OR a room whose public (speaker) link is disabled asked about
  without one of its keys. The two answers are byte-for-byte the same, so the look-up tells
  nobody that a room they hold no link for exists. A wrong key counts as no key.

Nothing else of the room (name, lock, size) is answered: the page learns those with ``joined``.
The store unreachable: 503 ``unavailable`` (the page then goes on to the join view as before).
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from ..domain.access.identity import link_enabled
from ..domain import end_dates
from .appkeys import ACCESS, STORE
from .pages import _room_slug

_MAX_BODY = 4096
UNAVAILABLE = {"state": "unavailable"}


async def read_key(request: web.Request) -> str | None:
    """The link's key from a small JSON body ``{"key": …}``; None for none, or for anything else."""
    if not request.can_read_body or (request.content_length or 0) > _MAX_BODY:
        return None
    raw = await request.content.read(_MAX_BODY)
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    key = body.get("key") if isinstance(body, dict) else None
    return key if isinstance(key, str) and 0 < len(key) <= 512 else None


async def room_state(request: web.Request) -> web.Response:
    slug = _room_slug(request)
    key = await read_key(request)
    room = await request.app[STORE].get_room(slug)
    headers = {"Cache-Control": "no-store"}
    if room is None:
        return web.json_response(UNAVAILABLE, headers=headers)
    known = link_enabled(room, "speaker")
    if not known and key is not None:
        known = await request.app[ACCESS].bearer(room, key) is not None
    if not known:
        return web.json_response(UNAVAILABLE, headers=headers)
    if room.status == "closed":
        state = "closed"
    elif end_dates.expired(room, int(time.time() * 1000)):
        state = "expired"
    else:
        state = "open"
    return web.json_response({"state": state}, headers=headers)


def setup(app: web.Application) -> None:
    """Register ``POST /{roomName}/state`` (one path pattern of two segments: never shadows an API)."""
    app.router.add_post("/{roomName}/state", room_state)
