"""Share links from the meeting: ``POST /{roomName}/links`` gives the room page the links its
participant may hand on (docs/client.md "Views of the room page"), as OpenVidu Meet does.

Body (optional JSON): ``{"key": "<the link's key>"}`` (in the body: never in an access log). Who
the key makes its bearer is decided as for a ``join`` (server/live/directory.py): no key = the
room's guest (speaker) link, a host key = host, a viewer key = viewer, a member key = that member.
The answer is ``{"speaker"?: url, "viewer"?: url}``:

- ``speaker`` (the room's guest link, no key in it) to whoever has ``canShareAccessLinks``, while
  the room's guest link is on;
- ``viewer`` (the ``?viewerKey=`` link) to hosts (base role moderator) only.

The host link is never given. A room that does not exist, or a key that is not one of the room's,
answers ``{}``: the same bytes as for someone who may share nothing (no existence oracle).
"""

from __future__ import annotations

from aiohttp import web

from signaling.rules.permissions import effective_permissions

from ..domain.access.identity import HOST, MEMBER, VIEWER, link_enabled
from .appkeys import ACCESS, LINKS, STORE
from .pages import _room_slug
from .room_state import read_key


async def _base_role(request: web.Request, room, key: str | None) -> tuple[str, dict] | None:
    if key is None:
        return ("speaker", {}) if link_enabled(room, "speaker") else None
    bearer = await request.app[ACCESS].bearer(room, key)
    if bearer is None:
        return None
    if bearer.kind == HOST:
        return ("moderator", {}) if bearer.enabled else None
    if bearer.kind == VIEWER:
        return "viewer", {}
    if bearer.kind == MEMBER and bearer.member is not None:
        return bearer.member.base_role, dict(bearer.member.custom_permissions or {})
    return None


async def share_links(request: web.Request) -> web.Response:
    slug = _room_slug(request)
    key = await read_key(request)
    room = await request.app[STORE].get_room(slug)
    headers = {"Cache-Control": "no-store"}
    who = await _base_role(request, room, key) if room is not None else None
    out: dict[str, str] = {}
    if who is not None:
        base, custom = who
        perms = effective_permissions(base, room.roles, custom)
        links = request.app[LINKS]
        if perms.get("canShareAccessLinks") and link_enabled(room, "speaker"):
            out["speaker"] = links.guest(room)
        if base == "moderator":
            out["viewer"] = links.viewer(room)
    return web.json_response(out, headers=headers)


def setup(app: web.Application) -> None:
    app.router.add_post("/{roomName}/links", share_links)
