"""Contract tests: Whereby v1's room theme (PUT /v1/rooms/{roomName}/theme/tokens, /logo,
/room-background, /room-knock-page-background) as its REST reference documents them (204 on
success; multipart ``image`` or JSON presets), the images' checks (PNG/JPEG sniffed from their
bytes, 600 KB) and Antechamber's GET of the theme and of each image. Both stores."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime, timedelta, timezone

import aiohttp
import av
import pytest

from tests.helpers.whereby_schemas import ERROR, check

IMAGE_KINDS = ["logo", "room-background", "room-knock-page-background"]


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg() -> bytes:
    """A real 16x16 JPEG (PyAV's MJPEG encoder)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mjpeg") as container:
        stream = container.add_stream("mjpeg")
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuvj420p"
        frame = av.VideoFrame(16, 16, "yuvj420p")
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def form(data: bytes, filename: str = "image.png", content_type: str = "image/png") -> aiohttp.FormData:
    f = aiohttp.FormData()
    f.add_field("image", data, filename=filename, content_type=content_type)
    return f


async def _meeting(client, auth) -> str:
    end = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = await client.post("/v1/meetings", json={"endDate": end}, headers=auth)
    assert resp.status == 201
    return (await resp.json())["meetingId"]


async def _error(resp, status: int, code: str) -> dict:
    body = await resp.json()
    assert resp.status == status, body
    check(ERROR, body)
    assert body["code"] == code, body
    return body


async def test_tokens_are_stored_and_shown(client, auth):
    rid = await _meeting(client, auth)
    body = {"tokens": {"colors": {"primary": "#1A2B3C", "secondary": "#ffffff", "focus": "#000000"}},
            "tokensPreset": "custom"}
    resp = await client.put(f"/v1/rooms/{rid}/theme/tokens", json=body, headers=auth)
    assert resp.status == 204 and await resp.read() == b""
    theme = await (await client.get(f"/v1/rooms/{rid}/theme", headers=auth)).json()
    assert theme["tokens"] == {"tokensPreset": "custom",
                               "colors": {"primary": "#1a2b3c", "secondary": "#ffffff", "focus": "#000000"}}
    resp = await client.put(f"/v1/rooms/%2F{rid}/theme/tokens", json={"tokensPreset": "default"}, headers=auth)
    assert resp.status == 204       # the room name with its leading slash works too
    theme = await (await client.get(f"/v1/rooms/{rid}/theme", headers=auth)).json()
    assert theme["tokens"]["tokensPreset"] == "default"


@pytest.mark.parametrize("body, field", [
    ({"tokens": {"colors": {"primary": "red"}}}, "tokens.colors.primary"),
    ({"tokens": {"colors": {"primary": "#12345"}}}, "tokens.colors.primary"),
    ({"tokens": {"colors": {"accent": "#123456"}}}, "tokens.colors.accent"),
    ({"tokens": "blue"}, "tokens"),
    ({"tokensPreset": "fancy"}, "tokensPreset"),
])
async def test_bad_tokens_are_400_naming_the_field(client, auth, body, field):
    rid = await _meeting(client, auth)
    err = await _error(await client.put(f"/v1/rooms/{rid}/theme/tokens", json=body, headers=auth), 400,
                       "validation_error")
    assert err["details"][0]["field"] == field


@pytest.mark.parametrize("kind", IMAGE_KINDS)
async def test_images_upload_and_serve_with_a_strict_content_type(client, auth, kind):
    rid = await _meeting(client, auth)
    url = f"/v1/rooms/{rid}/theme/{kind}"
    await _error(await client.get(url, headers=auth), 404, "theme_image_not_set")
    image = png()
    resp = await client.put(url, data=form(image), headers=auth)
    assert resp.status == 204, await resp.text()
    got = await client.get(url, headers=auth)
    assert got.status == 200 and await got.read() == image
    assert got.headers["Content-Type"] == "image/png" and got.headers["X-Content-Type-Options"] == "nosniff"
    # a JPEG declared as PNG with an .exe name: the bytes decide, the name is never used
    photo = jpeg()
    resp = await client.put(url, data=form(photo, filename="x.exe", content_type="image/png"), headers=auth)
    assert resp.status == 204, await resp.text()
    got = await client.get(url, headers=auth)
    assert await got.read() == photo and got.headers["Content-Type"] == "image/jpeg"
    theme = await (await client.get(f"/v1/rooms/{rid}/theme", headers=auth)).json()
    key = {"logo": "logo", "room-background": "roomBackground", "room-knock-page-background": "knockPageBackground"}
    assert theme[key[kind]]["image"] == {"url": url, "contentType": "image/jpeg", "size": len(photo)}
    # back to a preset: the uploaded file is no longer served
    preset = {"theme": "default"} if kind == "logo" else {"palette": "grey", "theme": "mountains"}
    assert (await client.put(url, json=preset, headers=auth)).status == 204
    await _error(await client.get(url, headers=auth), 404, "theme_image_not_set")
    theme = await (await client.get(f"/v1/rooms/{rid}/theme", headers=auth)).json()
    assert theme[key[kind]] == {"preset": preset}


@pytest.mark.parametrize("kind", IMAGE_KINDS)
async def test_image_errors(client, auth, kind):
    rid = await _meeting(client, auth)
    url = f"/v1/rooms/{rid}/theme/{kind}"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    await _error(await client.put(url, data=form(svg, "a.png"), headers=auth), 400, "unsupported_image_type")
    gif = b"GIF89a" + b"\x00" * 32
    await _error(await client.put(url, data=form(gif, "a.gif", "image/gif"), headers=auth), 400,
                 "unsupported_image_type")
    await _error(await client.put(url, data=form(b"\x89PNG\r\n\x1a\n"), headers=auth), 400, "unsupported_image_type")
    big = png() + b"\x00" * (600 * 1024)
    await _error(await client.put(url, data=form(big), headers=auth), 413, "image_too_large")
    await _error(await client.put(url, data=png(), headers={**auth, "Content-Type": "image/png"}), 400,
                 "invalid_content_type")
    for broken in ({"Content-Type": "multipart/form-data"},                      # no boundary
                   {"Content-Type": "multipart/form-data; boundary=xyz"}):       # nothing framed by it
        await _error(await client.put(url, data=b"[]--xyz--\r\n\x1d\xf1", headers={**auth, **broken}), 400,
                     "invalid_content_type")
    no_image = aiohttp.FormData()
    no_image.add_field("file", png(), filename="a.png", content_type="image/png")
    await _error(await client.put(url, data=no_image, headers=auth), 400, "invalid_content_type")
    await _error(await client.put(url, json={"theme": "neon"}, headers=auth), 400, "validation_error")
    await _error(await client.get(url, headers=auth), 404, "theme_image_not_set")     # nothing was stored


async def test_a_deleted_rooms_images_are_removed(client, auth):
    from server.http.appkeys import SETTINGS
    rid = await _meeting(client, auth)
    assert (await client.put(f"/v1/rooms/{rid}/theme/logo", data=form(png()), headers=auth)).status == 204
    themes = client.app[SETTINGS].data_dir / "themes"
    assert [p.name for p in themes.rglob("*.png")]
    assert (await client.delete(f"/v1/meetings/{rid}", headers=auth)).status == 204
    assert not list(themes.rglob("*.png"))


async def test_unknown_room_and_missing_key(client, auth):
    await _error(await client.put("/v1/rooms/nope/theme/tokens", json={"tokensPreset": "default"}, headers=auth),
                 404, "room_not_found")
    await _error(await client.put("/v1/rooms/nope/theme/logo", data=form(png()), headers=auth), 404,
                 "room_not_found")
    await _error(await client.get("/v1/rooms/nope/theme", headers=auth), 404, "room_not_found")
    rid = await _meeting(client, auth)
    resp = await client.put(f"/v1/rooms/{rid}/theme/tokens", json={"tokensPreset": "default"})
    assert resp.status == 401
    assert (await client.get(f"/v1/rooms/{rid}/theme/logo")).status == 401
