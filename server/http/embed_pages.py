"""The web component and its demo page (docs/embed.md).

- ``/embed.js``    the ``<antechamber-room>`` element: a dependency-free ES module that pages of any
                   origin may import (``Access-Control-Allow-Origin: *``, module scripts are fetched
                   in CORS mode; ``Cross-Origin-Resource-Policy: cross-origin``). It holds no secret:
                   which pages may frame a room is the room page's CSP (server/http/pages.py).
- ``/embed-demo``  a page of this server embedding a room given by its link, with an event log and
                   command buttons (framed as ``'self'``, so it needs no allowed origin).
"""

from __future__ import annotations

from aiohttp import web

from .pages import WEB_ROOT, _page

_MODULE_HEADERS = {
    "Content-Type": "text/javascript; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Cache-Control": "public, no-cache",
}


async def embed_module(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(request.app[WEB_ROOT] / "static" / "embed.js", headers=dict(_MODULE_HEADERS))


async def embed_demo(request: web.Request) -> web.StreamResponse:
    # keyed: the room link typed into it may carry a key
    return _page(request, "embed-demo.html", keyed=True)


def setup(app: web.Application) -> None:
    app.router.add_get("/embed.js", embed_module)
    app.router.add_get("/embed-demo", embed_demo)
