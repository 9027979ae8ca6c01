"""Whereby v1 room theme at /v1/rooms/{roomName}/theme/* (API key only; server/domain/rooms/theme.py
keeps it; docs/compatibility.md "Whereby v1 — room theme").

``PUT .../tokens`` (JSON) and ``PUT .../logo``, ``.../room-background``,
``.../room-knock-page-background`` (multipart ``image``, or JSON for the presets) answer 204 as
the reference says. A body that is neither multipart/form-data nor JSON is 400
``invalid_content_type``; an image that is not a PNG or JPEG 400 ``unsupported_image_type``; one
over 600 KB 413 ``image_too_large``. Ours: ``GET .../theme`` (the stored theme) and ``GET`` on each
image path (the image, with the content type its bytes proved and ``nosniff``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ...domain.rooms.theme import IMAGES, MAX_IMAGE_BYTES, Themes, preset, theme_error, tokens
from ...domain.errors import PayloadTooLarge
from ..appkeys import ROOMS, SETTINGS
from .auth import add_routes
from .jsonbody import read_object

IMAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'",
                 "Cache-Control": "private, max-age=60", "Content-Disposition": "inline"}


def _themes(request: web.Request) -> Themes:
    return Themes(request.app[ROOMS], request.app[SETTINGS].data_dir / "themes")


def _room_id(request: web.Request) -> str:
    return request.match_info["roomName"].lstrip("/")


async def _read_image(request: web.Request) -> bytes:
    try:
        return await _image_part(request)
    except (ValueError, HttpProcessingError):    # no boundary, broken part headers or framing
        raise theme_error("malformed multipart/form-data body") from None


async def _image_part(request: web.Request) -> bytes:
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise theme_error("multipart/form-data without an 'image' part")
        if getattr(part, "name", None) != "image":
            continue
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > MAX_IMAGE_BYTES:
                raise PayloadTooLarge(f"image is larger than {MAX_IMAGE_BYTES // 1024} KB", code="image_too_large")
        return bytes(data)


def _is_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def put_tokens(request: web.Request) -> web.Response:
    if not _is_json(request):
        raise theme_error("must be application/json")
    value = tokens(await read_object(request))
    await _themes(request).set(_room_id(request), "tokens", value)
    return web.Response(status=204)


def _image_handler(kind: str):
    async def put(request: web.Request) -> web.Response:
        themes, room_id = _themes(request), _room_id(request)
        if request.content_type == "multipart/form-data":
            await themes.put_image(room_id, kind, await _read_image(request))
        elif _is_json(request):
            await themes.set(room_id, IMAGES[kind], {"preset": preset(kind, await read_object(request))})
        else:
            raise theme_error("must be multipart/form-data (an 'image' file) or application/json (a preset)")
        return web.Response(status=204)

    async def get(request: web.Request) -> web.StreamResponse:
        path, content_type = await _themes(request).image(_room_id(request), kind)
        return web.FileResponse(path, headers={**IMAGE_HEADERS, "Content-Type": content_type})
    return put, get


def render(request: web.Request, theme: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"tokens": theme.get("tokens") or {"tokensPreset": "default", "colors": {}}}
    for kind, key in IMAGES.items():
        entry = theme.get(key) or {}
        if entry.get("file"):
            out[key] = {"image": {"url": f"/v1/rooms/{_room_id(request)}/theme/{kind}",
                                  "contentType": entry["contentType"], "size": entry["size"]}}
        else:
            out[key] = {"preset": entry.get("preset") or {"theme": "default"}}
    return out


async def get_theme(request: web.Request) -> web.Response:
    room = await request.app[ROOMS].get(_room_id(request))
    return web.json_response(render(request, room.theme or {}))


def setup(app: web.Application) -> None:
    """The routes; a deleted room's image files go with it (the room service's ``on_deleted``)."""
    rooms = app[ROOMS]
    rooms.on_deleted.append(Themes(rooms, app[SETTINGS].data_dir / "themes").remove_all)
    routes = [("PUT", "/rooms/{roomName}/theme/tokens", put_tokens), ("GET", "/rooms/{roomName}/theme", get_theme)]
    for kind in IMAGES:
        put, get = _image_handler(kind)
        routes += [("PUT", f"/rooms/{{roomName}}/theme/{kind}", put), ("GET", f"/rooms/{{roomName}}/theme/{kind}", get)]
    add_routes(app, ["/v1"], routes)
