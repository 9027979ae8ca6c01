"""Room branding over HTTP (docs/embed.md "Branding"; server/domain/rooms/appearance.py).

- ``PUT /api/v1/rooms/{roomId}/appearance`` (native API, Antechamber extension, OpenVidu Meet-style
  per-room colours): ``{scheme, background, panel, controls, accent, text}``; 422
  ``theme_contrast_too_low`` naming the field when a text would not reach WCAG AA.
- ``GET /{roomName}/theme`` (public: the room page needs it; a theme holds no secret): the CSS
  custom properties and the uploaded images' URLs of the room's theme (Whereby tokens and images,
  the native appearance).
- ``GET /{roomName}/theme/{kind}``: an uploaded image (logo, room-background,
  room-knock-page-background), already size- and type-checked on upload (theme.py), sent with the
  content type its bytes proved, ``nosniff`` and ``default-src 'none'``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.rooms import appearance
from ...domain.rooms.theme import IMAGES, Themes
from ...store.records import Room
from ..appkeys import ROOMS, SETTINGS
from .auth import add_routes
from .jsonbody import read_object
from .openapi import add_paths
from .theme_whereby import IMAGE_HEADERS

NATIVE_PREFIXES = ("/api/v1", "/meet/api/v1")


def _themes(request: web.Request) -> Themes:
    return Themes(request.app[ROOMS], request.app[SETTINGS].data_dir / "themes")


async def put_appearance(request: web.Request) -> web.Response:
    value = appearance.parse(await read_object(request))
    room: Room = await _themes(request).set(request.match_info["roomId"], "appearance", value)
    return web.json_response({"roomId": room.room_id, "appearance": value})


async def public_theme(request: web.Request) -> web.Response:
    room = await request.app[ROOMS].get(request.match_info["roomName"])
    theme = room.theme or {}
    images = {key: f"/{room.room_id}/theme/{kind}" for kind, key in IMAGES.items()
              if (theme.get(key) or {}).get("file")}
    body: dict[str, Any] = {"colors": appearance.page_colours(theme), "images": images,
                            "scheme": (theme.get("appearance") or {}).get("scheme", "dark")}
    return web.json_response(body, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def _public_image(kind: str):
    async def get(request: web.Request) -> web.StreamResponse:
        path, content_type = await _themes(request).image(request.match_info["roomName"], kind)
        return web.FileResponse(path, headers={**IMAGE_HEADERS, "Content-Type": content_type,
                                               "Cache-Control": "public, max-age=60"})
    return get


def _doc(op_id: str) -> dict[str, Any]:
    props = {name: {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"} for name in appearance.FIELDS}
    props["scheme"] = {"type": "string", "enum": list(appearance.SCHEMES)}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {"parameters": [{"name": "roomId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "put": {"operationId": op_id, "tags": ["Embedding"],
                    "summary": "Set the room page's colours (Antechamber extension); text must reach WCAG AA",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": False, "properties": props}}}},
                    "responses": {"200": {"description": "{roomId, appearance} as stored"},
                                  "422": {"description": "not a colour, or theme_contrast_too_low naming the field",
                                          **error},
                                  "401": {"description": "missing or invalid API key", **error},
                                  "404": {"description": "no such room", **error}}}}


def setup(app: web.Application) -> None:
    add_routes(app, NATIVE_PREFIXES, [("PUT", "/rooms/{roomId}/appearance", put_appearance)])
    add_paths(app, {f"{prefix}/rooms/{{roomId}}/appearance": _doc(
        "updateRoomAppearance" + ("" if prefix == "/api/v1" else "Meet")) for prefix in NATIVE_PREFIXES})
    app.router.add_get("/{roomName}/theme", public_theme)
    for kind in IMAGES:
        app.router.add_get(f"/{{roomName}}/theme/{kind}", _public_image(kind))
