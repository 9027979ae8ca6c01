"""Serves the browser client in ``web/``: landing page, dashboard, room pages, assets.

Routes:
- ``/``                 landing page
- ``/dashboard``        API-key dashboard (rooms, links, recordings)
- ``/static/{path}``    CSS, JS modules, icons (``/web/{path}`` is an alias)
- ``/{roomName}``       the room page for any room slug; the page joins over ``/ws``; framed only by
                        itself and the allowed origins (``frame-ancestors``: server/origins.py)
- ``/embed.js``, ``/embed-demo``  the web component and its demo page (server/http/embed_pages.py)
- ``/{roomName}/recordings``  the room's recordings (``?recordingKey=`` or ``?roomKey=``)
- ``/recording/{recordingId}``  one recording's player page (a signed link, ``?roomKey=`` or ``?recordingKey=``)

A room page whose query string (``?roomKey=``, ``?memberKey=``, ...) is not UTF-8
or holds text the server refuses (server/http/api/query.py ``check``) answers 400: the page would
only hand that text on to ``/ws``.

The catch-all room route must be registered after every other route (see
``setup``); it only matches one path segment and refuses reserved names, so it
never shadows ``/api``, ``/meet``, ``/v1``, ``/ws``, ``/healthz`` or ``/readyz``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from aiohttp import web

from ..origins import frame_ancestors
from ..store.redis_store import UNAVAILABLE_ERRORS
from .api.query import TextError, check_query
from .appkeys import SETTINGS, STORE

# Names the room route never serves: they belong to other surfaces.
RESERVED = frozenset({
    "api", "meet", "v1", "ws", "healthz", "readyz", "metrics", "static", "web",
    "dashboard", "favicon.ico", "robots.txt", "embed.js", "embed-demo",
})
# Room slugs: what the rooms API can produce (prefix + uuid / human-short / custom names).
_ROOM_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")

# Content-Security-Policy for every page: nothing from other origins.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
_ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".html": "text/html; charset=utf-8",
}
WEB_ROOT = web.AppKey("web_root", Path)


def web_root() -> Path:
    """Directory holding the client files (works from a checkout and when installed)."""
    return Path(str(resources.files("web")))


def _page(request: web.Request, name: str, *, keyed: bool = False, ancestors: str = "'none'") -> web.FileResponse:
    path = request.app[WEB_ROOT] / name
    headers = dict(_PAGE_HEADERS)
    if ancestors != "'none'":
        headers["Content-Security-Policy"] = _CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")
    headers["Content-Type"] = "text/html; charset=utf-8"
    if keyed:
        # The link may carry a room key: never leak it through Referer, never cache the page.
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cache-Control"] = "no-store"
    else:
        headers["Referrer-Policy"] = "same-origin"
    return web.FileResponse(path, headers=headers)


async def landing(request: web.Request) -> web.StreamResponse:
    return _page(request, "index.html")


async def dashboard(request: web.Request) -> web.StreamResponse:
    # The dashboard handles an API key: no referrer, no caching.
    return _page(request, "dashboard.html", keyed=True)


def _room_slug(request: web.Request) -> str:
    """The page's room name, 404 unless it is a room slug; 400 if its query string is not acceptable text."""
    name = request.match_info["roomName"]
    if name.lower() in RESERVED or not _ROOM_SLUG.match(name):
        raise web.HTTPNotFound(text="not found")
    try:
        check_query(request)
    except TextError as err:
        raise web.HTTPBadRequest(text=f"this link is not valid: {err.field} {err.message}") from None
    return name


async def _allowed_ancestors(request: web.Request, room_id: str) -> str:
    """``'self'``, the server's ``embed_origins`` and the room's own (none of the room's while the
    store cannot be read: the page could not join then anyway)."""
    settings = request.app.get(SETTINGS)
    server_origins = settings.embed_origins if settings is not None else ()
    room_origins: list[str] = []
    store = request.app.get(STORE)
    if store is not None:
        try:
            room = await store.get_room(room_id)
        except UNAVAILABLE_ERRORS:
            room = None
        room_origins = list(room.embed_origins or []) if room is not None else []
    return frame_ancestors(server_origins, room_origins)


async def room_page(request: web.Request) -> web.StreamResponse:
    room_id = _room_slug(request)
    # Room pages are always treated as keyed: a host, viewer or member link carries a
    # secret in the query string, and guest pages gain nothing from sending a referrer.
    return _page(request, "room.html", keyed=True, ancestors=await _allowed_ancestors(request, room_id))


async def asset(request: web.Request) -> web.StreamResponse:
    root: Path = request.app[WEB_ROOT] / "static"
    rel = request.match_info["path"]
    # Resolve and confine to the static directory: no request path escapes it.
    try:
        target = (root / rel).resolve()
        target.relative_to(root.resolve())
    except (ValueError, OSError):
        raise web.HTTPNotFound(text="not found")
    if not target.is_file() or target.suffix not in _ASSET_TYPES:
        raise web.HTTPNotFound(text="not found")
    headers = {
        "Content-Type": _ASSET_TYPES[target.suffix],
        "X-Content-Type-Options": "nosniff",
        # No build step means no hashed file names: let browsers keep a copy but
        # revalidate (ETag / Last-Modified -> 304) so an upgrade is never stale.
        "Cache-Control": "public, no-cache",
    }
    return web.FileResponse(target, headers=headers)


async def favicon(request: web.Request) -> web.StreamResponse:
    target = request.app[WEB_ROOT] / "static" / "favicon.svg"
    return web.FileResponse(target, headers={
        "Content-Type": "image/svg+xml", "Cache-Control": "public, max-age=86400"})


def setup(app: web.Application, root: Path | None = None) -> None:
    """Add the page and asset routes (not the room catch-all; see ``setup_room_route``)."""
    app[WEB_ROOT] = root or web_root()
    app.router.add_get("/", landing)
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/static/{path:.+}", asset)
    app.router.add_get("/web/{path:.+}", asset)


async def recordings_page(request: web.Request) -> web.StreamResponse:
    _room_slug(request)
    return _page(request, "recordings.html", keyed=True)


_RECORDING_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


async def player_page(request: web.Request) -> web.StreamResponse:
    """``/recording/{recordingId}``: the player page of one recording (a signed link's
    ``?expires=&signature=``, a room key or the recording key in the query: the page's own requests
    carry them; without one the page says it needs the link)."""
    if not _RECORDING_ID.match(request.match_info["recordingId"]):
        raise web.HTTPNotFound(text="not found")
    try:
        check_query(request)
    except TextError as err:
        raise web.HTTPBadRequest(text=f"this link is not valid: {err.field} {err.message}") from None
    return _page(request, "recording.html", keyed=True)


def setup_room_route(app: web.Application) -> None:
    """Register the ``/{roomName}`` catch-all (and the room's recordings page,
    ``/{roomName}/recordings``, the room's recording access link, then a recording's player page
    ``/recording/{recordingId}``: a room named recording keeps its recordings page). Call this LAST."""
    app.router.add_get("/{roomName}/recordings", recordings_page)
    app.router.add_get("/recording/{recordingId}", player_page)
    app.router.add_get("/{roomName}", room_page)
