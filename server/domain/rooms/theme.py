"""A room's theme (Whereby v1 ``/rooms/{roomName}/theme/*``): colours and three images, kept with
the room (``Room.theme``, written through the room service's compare-and-set) and, for uploaded
images, as files under the data directory's ``themes/<room id>/`` (docs/architecture.md "Stores and
writes"; docs/compatibility.md "Whereby v1 — room theme").

An image is accepted only if its bytes are a PNG or a JPEG (magic bytes sniffed here; the name and
the declared type of the upload are ignored) and at most ``MAX_IMAGE_BYTES``; it is stored under a
name made here (kind + content hash), never one from the request, and served back with the content
type its bytes proved.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ...store.records import Room
from ..errors import ApiError, BadRequest, NotFound, PayloadTooLarge
from .service import RoomService

MAX_IMAGE_BYTES = 600 * 1024        # the reference: "max 600 kb" for the backgrounds; the same for the logo
IMAGES = {"logo": "logo", "room-background": "roomBackground", "room-knock-page-background": "knockPageBackground"}
PNG, JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"
TYPES = {"image/png": ".png", "image/jpeg": ".jpg"}
COLOR = re.compile(r"#[a-fA-F0-9]{6}")
COLOR_NAMES = ("primary", "secondary", "focus")
PALETTES = ("default", "grey", "purple", "burgund")
BACKGROUND_THEMES = ("default", "mountains", "characters", "rocks")
FILE_NAME = re.compile(r"[a-z-]+-[0-9a-f]{16}\.(png|jpg)")


def _bad(field: str, message: str, code: str = "validation_error") -> BadRequest:
    return BadRequest(f"invalid request: {field}: {message}", code=code, details=[{"field": field, "message": message}])


def sniff(data: bytes) -> str:
    """The image's content type from its first bytes: image/png or image/jpeg, else 400."""
    if data.startswith(PNG) and len(data) > len(PNG) + 8 and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(JPEG) and len(data) > 4:
        return "image/jpeg"
    raise _bad("image", "must be a PNG or JPEG image", code="unsupported_image_type")


def tokens(body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a ``PUT .../theme/tokens`` body (refused: 400 naming the field)."""
    preset = body.get("tokensPreset", "default" if "tokens" not in body else "custom")
    if preset not in ("custom", "default"):
        raise _bad("tokensPreset", "must be custom or default")
    colors_in = body.get("tokens", {})
    if not isinstance(colors_in, dict):
        raise _bad("tokens", "must be an object")
    colors = colors_in.get("colors") or {}
    if not isinstance(colors, dict):
        raise _bad("tokens.colors", "must be an object")
    out: dict[str, str] = {}
    for name, value in colors.items():
        if name not in COLOR_NAMES:
            raise _bad(f"tokens.colors.{name}", f"unknown colour; allowed: {', '.join(COLOR_NAMES)}")
        if not isinstance(value, str) or not COLOR.fullmatch(value):
            raise _bad(f"tokens.colors.{name}", "must be a HEX colour like #1a2b3c")
        out[name] = value.lower()
    return {"tokensPreset": preset, "colors": out}


def preset(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a JSON body of an image endpoint: the logo's ``{theme: default}`` or a
    background's ``{palette, theme}``."""
    allowed = {"theme": ("default",)} if kind == "logo" else {"palette": PALETTES, "theme": BACKGROUND_THEMES}
    out: dict[str, str] = {}
    for name, value in body.items():
        if name not in allowed:
            raise _bad(name, f"unknown field; allowed: {', '.join(allowed)}")
        if value not in allowed[name]:
            raise _bad(name, f"must be one of: {', '.join(allowed[name])}")
        out[name] = value
    return out


class Themes:
    """Theme writes of rooms and their image files under ``directory`` (the data dir's themes/)."""

    def __init__(self, rooms: RoomService, directory: Path) -> None:
        self.rooms, self.directory = rooms, directory

    def _room_dir(self, room_id: str) -> Path:
        return self.directory / hashlib.sha256(room_id.encode()).hexdigest()[:32]

    async def set(self, room_id: str, key: str, value: dict[str, Any]) -> Room:
        """Store ``value`` as the theme's ``key``; the image file it replaces (if any) is removed."""
        old: dict[str, Any] = {}

        def change(r: Room) -> None:
            old.clear()
            old.update((r.theme or {}).get(key) or {})
            r.theme = {**(r.theme or {}), key: value}
        room = await self.rooms.update(room_id, change, "theme")
        if old.get("file") and old.get("file") != value.get("file"):
            self._remove(room_id, old["file"])
        return room

    async def put_image(self, room_id: str, kind: str, data: bytes) -> Room:
        if len(data) > MAX_IMAGE_BYTES:
            raise PayloadTooLarge(f"image is larger than {MAX_IMAGE_BYTES // 1024} KB", code="image_too_large")
        content_type = sniff(data)
        await self.rooms.get(room_id)
        name = f"{kind}-{hashlib.sha256(data).hexdigest()[:16]}{TYPES[content_type]}"
        folder = self._room_dir(room_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)
        image = {"file": name, "contentType": content_type, "size": len(data)}
        return await self.set(room_id, IMAGES[kind], image)

    async def image(self, room_id: str, kind: str) -> tuple[Path, str]:
        """The stored image's file and content type; 404 when the room has none of that kind."""
        room = await self.rooms.get(room_id)
        entry = (room.theme or {}).get(IMAGES[kind]) or {}
        name = entry.get("file")
        path = self._room_dir(room_id) / name if isinstance(name, str) and FILE_NAME.fullmatch(name) else None
        if path is None or not path.is_file() or entry.get("contentType") not in TYPES:
            raise NotFound(f"room {room_id!r} has no uploaded {kind} image", code="theme_image_not_set")
        return path, entry["contentType"]

    def _remove(self, room_id: str, name: str) -> None:
        if FILE_NAME.fullmatch(name):
            (self._room_dir(room_id) / name).unlink(missing_ok=True)

    def remove_all(self, room_id: str) -> None:
        shutil.rmtree(self._room_dir(room_id), ignore_errors=True)


def theme_error(message: str) -> ApiError:
    return _bad("Content-Type", message, code="invalid_content_type")
